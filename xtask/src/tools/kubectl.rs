//! `kubectl`: its version, the cluster-wide commands, the release's namespace (`KubectlIn`),
//! and the optional `kubectl-ai`.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

use crate::process::Cmd;

use super::*;

#[derive(Debug, Deserialize)]
struct KubectlVersionJson {
    #[serde(rename = "clientVersion")]
    client: Option<KubeVersionInfo>,
    #[serde(rename = "serverVersion")]
    server: Option<KubeVersionInfo>,
}

#[derive(Debug, Deserialize)]
struct KubeVersionInfo {
    #[serde(rename = "gitVersion")]
    git_version: String,
}

/// `kubectl version -o json` → (client, server if it answered).
pub fn parse_kubectl_version(stdout: &str) -> Result<(Version, Option<Version>)> {
    let v: KubectlVersionJson =
        serde_json::from_str(stdout.trim()).context("unexpected `kubectl version` output")?;
    let client = v
        .client
        .and_then(|c| Version::parse(&c.git_version))
        .ok_or_else(|| anyhow!("`kubectl version` printed no client version"))?;
    Ok((
        client,
        v.server.and_then(|s| Version::parse(&s.git_version)),
    ))
}

pub struct Kubectl<'a> {
    pub tool: &'a Tool,
}

impl Kubectl<'_> {
    /// A kubectl command exactly as the deployment plan writes it (current context), for the
    /// `cluster` suite; `stdin` is a manifest piped to `-f -`, kept out of the logs.
    pub fn as_written(&self, args: &[String], stdin: Option<String>) -> Cmd {
        let mut c = self
            .tool
            .cmd()
            .args(args.iter().cloned())
            .timeout(Duration::from_secs(6 * 60))
            .mutating();
        if let Some(text) = stdin {
            c = c.stdin_secret(text);
        }
        c
    }

    pub fn current_context(&self) -> Cmd {
        self.tool
            .cmd()
            .args(["config", "current-context"])
            .timeout(QUICK)
    }

    /// One Secret's data, for comparing before and after an upgrade: its output is secret.
    pub fn secret_json(&self, context: &str, namespace: &str, name: &str) -> Cmd {
        self.tool
            .cmd()
            .args([
                "--context",
                context,
                "-n",
                namespace,
                "get",
                "secret",
                name,
                "-o",
                "json",
            ])
            .timeout(QUICK)
            .sensitive_output()
    }

    pub fn version_client(&self) -> Cmd {
        self.tool
            .cmd()
            .args(["version", "--client", "-o", "json"])
            .timeout(QUICK)
    }

    /// Client and server of one context (never the current one: the skew that matters is
    /// the target's); the server part is missing (exit 1) when no API server answers, which
    /// a short request timeout says quickly.
    pub fn version(&self, context: &str) -> Cmd {
        self.tool
            .cmd()
            .args([
                "--context",
                context,
                "version",
                "-o",
                "json",
                "--request-timeout=3s",
            ])
            .timeout(QUICK)
    }
}

/// kubectl aimed at one kube context (minikube names it after the profile) and namespace, so
/// a different current context can never receive the release.
pub struct KubectlIn<'a> {
    pub tool: &'a Tool,
    pub context: &'a str,
    pub namespace: &'a str,
}

impl KubectlIn<'_> {
    fn base(&self) -> Cmd {
        self.cluster_scoped().args(["-n", self.namespace])
    }

    /// The context without the namespace, for cluster-scoped objects (nodes, namespaces,
    /// IngressClasses) and the API server itself.
    fn cluster_scoped(&self) -> Cmd {
        self.tool.cmd().args(["--context", self.context])
    }

    /// The API server's own health endpoint: prints `ok` once it serves requests.
    pub fn readyz(&self) -> Cmd {
        self.cluster_scoped()
            .args(["get", "--raw", "/readyz", "--request-timeout=5s"])
            .timeout(QUICK)
    }

    /// `kubectl wait --for=condition=ready pod -l SELECTOR` (exit 0 when all are Ready).
    pub fn wait_pods_ready(&self, selector: &str, timeout: Duration) -> Cmd {
        self.base()
            .args([
                "wait",
                "--for=condition=ready",
                "pod",
                "-l",
                selector,
                &format!("--timeout={}s", timeout.as_secs()),
            ])
            .timeout(timeout + Duration::from_secs(30))
    }

    /// Workloads and pods of the release in one call (a `v1/List`), so one poll sees both
    /// the rollout's progress and each pod's state.
    pub fn get_workloads_and_pods(&self, selector: &str) -> Cmd {
        self.base()
            .args([
                "get",
                "deployments,statefulsets,pods",
                "-l",
                selector,
                "-o",
                "json",
            ])
            .timeout(QUICK)
    }

    pub fn get_pods_json(&self, selector: &str) -> Cmd {
        self.base()
            .args(["get", "pods", "-l", selector, "-o", "json"])
            .timeout(QUICK)
    }

    pub fn events_json(&self) -> Cmd {
        self.base()
            .args(["get", "events", "-o", "json"])
            .timeout(QUICK)
    }

    /// Every pod in every namespace (what else asks the nodes for room).
    pub fn all_pods_json(&self) -> Cmd {
        self.cluster_scoped()
            .args(["get", "pods", "-A", "-o", "json"])
            .timeout(QUICK)
    }

    pub fn nodes_json(&self) -> Cmd {
        self.cluster_scoped()
            .args(["get", "nodes", "-o", "json"])
            .timeout(QUICK)
    }

    pub fn create_namespace(&self) -> Cmd {
        self.cluster_scoped()
            .args(["create", "namespace", self.namespace])
            .timeout(QUICK)
            .mutating()
    }

    /// Exit 1 with NotFound once the namespace is gone.
    pub fn get_namespace(&self) -> Cmd {
        self.cluster_scoped()
            .args(["get", "namespace", self.namespace])
            .timeout(QUICK)
    }

    /// The API server's own validation and admission of manifests, changing nothing.
    pub fn apply_server_dry_run(&self, path: &Path) -> Cmd {
        self.base()
            .args(["apply", "--dry-run=server", "-f", &path.to_string_lossy()])
            .timeout(Duration::from_secs(120))
    }

    /// The release's Ingresses, whose status holds the address the controller publishes.
    pub fn ingresses_json(&self) -> Cmd {
        self.base()
            .args(["get", "ingress", "-o", "json"])
            .timeout(QUICK)
    }

    /// The cluster's IngressClasses (cluster-scoped).
    pub fn ingress_classes_json(&self) -> Cmd {
        self.cluster_scoped()
            .args(["get", "ingressclass", "-o", "json", "--request-timeout=10s"])
            .timeout(QUICK)
    }

    pub fn describe_pod(&self, pod: &str) -> Cmd {
        self.base().args(["describe", "pod", pod]).timeout(QUICK)
    }

    /// The last `tail` lines of one container; `previous` reads the instance that crashed.
    pub fn logs(&self, pod: &str, container: &str, tail: u32, previous: bool) -> Cmd {
        let mut c = self
            .base()
            .args(["logs", pod, "-c", container, &format!("--tail={tail}")]);
        if previous {
            c = c.arg("--previous");
        }
        c.timeout(QUICK)
    }

    /// The logs of every pod matching `selector`, each line prefixed with its pod/container.
    pub fn logs_selector(&self, selector: &str, tail: u32, follow: bool) -> Cmd {
        let mut c = self.base().args([
            "logs",
            "-l",
            selector,
            "--all-containers",
            "--prefix",
            &format!("--tail={tail}"),
            "--max-log-requests=10",
        ]);
        if follow {
            c = c
                .arg("-f")
                .output(crate::process::Output::Inherit)
                .timeout(Duration::from_secs(24 * 3600));
        } else {
            c = c.timeout(Duration::from_secs(60));
        }
        c
    }

    /// `kubectl port-forward svc/NAME :PORT`: kubectl picks a free local port itself and
    /// prints `Forwarding from 127.0.0.1:<local> -> <port>`; the caller reads it from there.
    pub fn port_forward(&self, target: &str, remote_port: u16) -> Cmd {
        self.base()
            .args([
                "port-forward",
                "--address",
                "127.0.0.1",
                target,
                &format!(":{remote_port}"),
            ])
            .timeout(Duration::from_secs(3600))
    }

    /// A rolling restart of every Deployment matching `selector`.
    pub fn rollout_restart(&self, selector: &str) -> Cmd {
        self.base()
            .args(["rollout", "restart", "deployment", "-l", selector])
            .timeout(QUICK)
            .mutating()
    }

    /// Deletes one pod (its controller makes a new one): a drill's way to restart it.
    pub fn delete_pod(&self, pod: &str) -> Cmd {
        self.base()
            .args(["delete", "pod", pod, "--wait=false"])
            .timeout(QUICK)
            .mutating()
    }

    pub fn delete_pvcs(&self) -> Cmd {
        self.base()
            .args([
                "delete",
                "pvc",
                "--all",
                "--ignore-not-found",
                "--timeout=5m",
            ])
            .timeout(Duration::from_secs(6 * 60))
            .mutating()
    }

    pub fn delete_namespace(&self) -> Cmd {
        self.cluster_scoped()
            .args([
                "delete",
                "namespace",
                self.namespace,
                "--ignore-not-found",
                "--timeout=5m",
            ])
            .timeout(Duration::from_secs(6 * 60))
            .mutating()
    }
}

/// kubectl-ai, the optional AI helper `diagnose --ai` hands its summary to.
pub struct KubectlAi<'a> {
    pub tool: &'a Tool,
}

impl KubectlAi<'_> {
    /// One non-interactive question (`--quiet` answers and exits, per kubectl-ai's README).
    pub fn ask(&self, question: &str) -> Cmd {
        self.tool
            .cmd()
            .args(["--quiet", question])
            .output(crate::process::Output::Inherit)
            .timeout(Duration::from_secs(10 * 60))
    }
}
