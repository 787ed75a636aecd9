//! `minikube`: its version, `profile list`, `status`, `docker-env`, `addons`, `start` and the
//! rest, each beside the parser of its output.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

use crate::process::Cmd;

use super::*;

/// `minikube version -o json` → `{"commit": "...", "minikubeVersion": "v1.34.0"}`.
pub fn parse_minikube_version(stdout: &str) -> Result<Version> {
    #[derive(Deserialize)]
    struct V {
        #[serde(rename = "minikubeVersion")]
        version: String,
    }
    let v: V =
        serde_json::from_str(stdout.trim()).context("unexpected `minikube version` output")?;
    Version::parse(&v.version).ok_or_else(|| anyhow!("unreadable minikube version {:?}", v.version))
}

/// One profile of `minikube profile list -o json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Profile {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "Config")]
    pub config: Option<ProfileConfig>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ProfileConfig {
    #[serde(rename = "Memory", default)]
    pub memory_mb: u64,
    #[serde(rename = "CPUs", default)]
    pub cpus: u32,
    #[serde(rename = "Driver", default)]
    pub driver: String,
    #[serde(rename = "KubernetesConfig")]
    pub kubernetes: Option<KubernetesConfig>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct KubernetesConfig {
    #[serde(rename = "KubernetesVersion", default)]
    pub version: String,
    #[serde(rename = "ContainerRuntime", default)]
    pub runtime: String,
}

pub fn parse_profiles(stdout: &str) -> Result<Vec<Profile>> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        valid: Vec<Profile>,
    }
    let l: List =
        serde_json::from_str(stdout.trim()).context("unexpected `minikube profile list` output")?;
    Ok(l.valid)
}

/// One node of `minikube status -o json` (exit code is non-zero when anything is stopped or
/// the kubeconfig is stale).
#[derive(Clone, Debug, Deserialize)]
pub struct MinikubeStatus {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Host", default)]
    pub host: String,
    #[serde(rename = "Kubelet", default)]
    pub kubelet: String,
    #[serde(rename = "APIServer", default)]
    pub apiserver: String,
    /// `Configured`, `Misconfigured` (the kube context points at a stale address), or
    /// `Irrelevant` on a worker node.
    #[serde(rename = "Kubeconfig", default)]
    pub kubeconfig: String,
    #[serde(rename = "Worker", default)]
    pub worker: bool,
}

/// Every node of a profile: minikube prints one object for a single-node profile and an
/// array (control plane first) for a multi-node one.
#[derive(Clone, Debug)]
pub struct ProfileStatus {
    pub nodes: Vec<MinikubeStatus>,
}

impl ProfileStatus {
    pub fn control_plane(&self) -> Option<&MinikubeStatus> {
        self.nodes.iter().find(|n| !n.worker)
    }

    /// Every node's host and kubelet run and every control plane's API server answers.
    pub fn running(&self) -> bool {
        self.control_plane().is_some()
            && self
                .nodes
                .iter()
                .all(|n| n.host == "Running" && n.kubelet == "Running")
            && self
                .nodes
                .iter()
                .filter(|n| !n.worker)
                .all(|n| n.apiserver == "Running")
    }

    /// Running, but the kubeconfig entry points at an old address (after a restart that
    /// changed the port or IP): every kubectl call on the context fails until
    /// `minikube update-context`.
    pub fn kubeconfig_stale(&self) -> bool {
        self.control_plane()
            .is_some_and(|n| n.kubeconfig == "Misconfigured")
    }

    /// `Running`, or each node's host state when they differ.
    pub fn summary(&self) -> String {
        if self.running() {
            return "Running".into();
        }
        self.nodes
            .iter()
            .map(|n| format!("{} {}", n.name, n.host))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn parse_minikube_status(stdout: &str) -> Option<ProfileStatus> {
    let text = stdout.trim();
    let nodes = if text.starts_with('[') {
        serde_json::from_str::<Vec<MinikubeStatus>>(text).ok()?
    } else {
        vec![serde_json::from_str::<MinikubeStatus>(text).ok()?]
    };
    (!nodes.is_empty()).then_some(ProfileStatus { nodes })
}

/// `minikube docker-env --shell none` → the variables to pass to every docker call.
pub fn parse_docker_env(stdout: &str) -> Result<Vec<(String, String)>> {
    let vars: Vec<(String, String)> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect();
    if !vars.iter().any(|(k, _)| k == "DOCKER_HOST") {
        anyhow::bail!("`minikube docker-env` printed no DOCKER_HOST:\n{stdout}");
    }
    Ok(vars)
}

/// `minikube addons list -o json` → addon name → enabled.
pub fn parse_addons(stdout: &str) -> Result<BTreeMap<String, bool>> {
    #[derive(Deserialize)]
    struct Addon {
        #[serde(rename = "Status", default)]
        status: String,
    }
    let m: BTreeMap<String, Addon> =
        serde_json::from_str(stdout.trim()).context("unexpected `minikube addons list` output")?;
    Ok(m.into_iter()
        .map(|(k, a)| (k, a.status == "enabled"))
        .collect())
}

pub struct Minikube<'a> {
    pub tool: &'a Tool,
    pub profile: &'a str,
}

impl Minikube<'_> {
    fn base(&self) -> Cmd {
        self.tool.cmd().args(["-p", self.profile])
    }

    pub fn version(&self) -> Cmd {
        self.tool
            .cmd()
            .args(["version", "-o", "json"])
            .timeout(QUICK)
    }

    pub fn profile_list(&self) -> Cmd {
        self.tool
            .cmd()
            .args(["profile", "list", "-o", "json"])
            .timeout(Duration::from_secs(60))
    }

    pub fn status(&self) -> Cmd {
        self.base()
            .args(["status", "-o", "json"])
            .timeout(Duration::from_secs(60))
    }

    pub fn docker_env(&self) -> Cmd {
        self.base()
            .args(["docker-env", "--shell", "none"])
            .timeout(Duration::from_secs(60))
    }

    pub fn addons_list(&self) -> Cmd {
        self.base()
            .args(["addons", "list", "-o", "json"])
            .timeout(Duration::from_secs(60))
    }

    pub fn ip(&self) -> Cmd {
        self.base().arg("ip").timeout(QUICK)
    }

    /// Points the profile's kube context at the cluster's current address again.
    pub fn update_context(&self) -> Cmd {
        self.base()
            .arg("update-context")
            .timeout(Duration::from_secs(60))
            .mutating()
    }

    pub fn image_ls(&self) -> Cmd {
        self.base()
            .args(["image", "ls"])
            .timeout(Duration::from_secs(60))
    }

    pub fn image_load(&self, image: &str) -> Cmd {
        self.base()
            .args(["image", "load", image])
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }
}

impl Minikube<'_> {
    /// `minikube start`: with every option for a new profile; with none for an existing one,
    /// which keeps the configuration it was created with.
    pub fn start(&self, opts: &StartOptions) -> Cmd {
        let mut c = self.base().arg("start");
        if let Some(d) = &opts.driver {
            c = c.args(["--driver", d]);
        }
        if let Some(m) = opts.memory_mb {
            c = c.args(["--memory", &m.to_string()]);
        }
        if let Some(n) = opts.cpus {
            c = c.args(["--cpus", &n.to_string()]);
        }
        if let Some(v) = &opts.kubernetes_version {
            c = c.args(["--kubernetes-version", v]);
        }
        c.timeout(Duration::from_secs(20 * 60)).mutating()
    }

    pub fn addons_enable(&self, addon: &str) -> Cmd {
        self.base()
            .args(["addons", "enable", addon])
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }

    pub fn delete(&self) -> Cmd {
        self.base()
            .arg("delete")
            .timeout(Duration::from_secs(5 * 60))
            .mutating()
    }
}

#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    pub driver: Option<String>,
    pub memory_mb: Option<u64>,
    pub cpus: Option<u32>,
    pub kubernetes_version: Option<String>,
}
