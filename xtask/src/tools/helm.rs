//! `helm`: lint and template (`Helm`), and the release's own commands (`HelmRelease`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::Cmd;

use super::*;

pub struct Helm<'a> {
    pub tool: &'a Tool,
}

impl Helm<'_> {
    pub fn version(&self) -> Cmd {
        self.tool
            .cmd()
            .args(["version", "--template", "{{.Version}}"])
            .timeout(QUICK)
    }

    /// A helm command exactly as the deployment plan writes it (in the kubeconfig's current
    /// context and namespace), for the `cluster` suite, which proves those commands work.
    pub fn as_written(&self, args: &[String]) -> Cmd {
        self.tool
            .cmd()
            .args(args.iter().cloned())
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }

    pub fn lint_strict(&self, chart: &Path, values: &[PathBuf], set: &[String]) -> Cmd {
        let mut c = self
            .tool
            .cmd()
            .args(["lint", "--strict", &chart.to_string_lossy()]);
        for v in values {
            c = c.args(["-f", &v.to_string_lossy()]);
        }
        for s in set {
            c = c.args(["--set", s]);
        }
        c.timeout(Duration::from_secs(120))
    }

    pub fn template(&self, release: &str, chart: &Path, namespace: &str, extra: &[String]) -> Cmd {
        self.tool
            .cmd()
            .args([
                "template",
                release,
                &chart.to_string_lossy(),
                "--namespace",
                namespace,
            ])
            .args(extra.iter().cloned())
            .timeout(Duration::from_secs(120))
    }
}

/// One Helm release in one namespace and kube context. The flags are the same for Helm 3
/// and Helm 4: no `--wait`/`--atomic` (Helm 4 renamed `--atomic` to `--rollback-on-failure`
/// and made `--wait` a strategy whose default, `hookOnly`, matches Helm 3 without `--wait`).
pub struct HelmRelease<'a> {
    pub tool: &'a Tool,
    pub context: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl HelmRelease<'_> {
    /// Never in debug mode, whatever the environment says: with `HELM_DEBUG` set, the release
    /// summary `helm upgrade --install` prints (and `helm test`, which prints the same block)
    /// carries the user-supplied and computed values and the manifest, the Secret included.
    fn cmd(&self) -> Cmd {
        self.tool.cmd().env_remove("HELM_DEBUG")
    }

    /// `helm <verb…> <release> --kube-context … --namespace …`.
    fn base(&self, verb: &[&str]) -> Cmd {
        self.cmd().args(verb.iter().copied()).args([
            self.name,
            "--kube-context",
            self.context,
            "--namespace",
            self.namespace,
        ])
    }

    /// `helm upgrade --install` with values files, `--set` pairs and, when `stdin_values` is
    /// given, one more values file read from stdin (`-f -`): the secrets, which so never
    /// appear on a command line, in a file or in `ps`.
    ///
    /// Sensitive output: after the summary Helm prints the chart's NOTES, a template that may
    /// quote any value (and, in debug mode, every value and the manifest). The caller reads
    /// `REVISION:` from it; Helm's errors are on stderr and still shown.
    pub fn upgrade_install(
        &self,
        chart: &Path,
        values: &[PathBuf],
        set: &[String],
        stdin_values: Option<String>,
    ) -> Cmd {
        let mut c = self
            .cmd()
            .sensitive_output()
            .args(["upgrade", "--install", self.name, &chart.to_string_lossy()])
            .args([
                "--kube-context",
                self.context,
                "--namespace",
                self.namespace,
                "--create-namespace",
            ]);
        for v in values {
            c = c.args(["-f", &v.to_string_lossy()]);
        }
        if let Some(text) = stdin_values {
            c = c.args(["-f", "-"]).stdin_secret(text);
        }
        for s in set {
            c = c.args(["--set", s]);
        }
        c.timeout(Duration::from_secs(10 * 60)).mutating()
    }

    /// `helm history -o json`: exit 1 with "release: not found" before the first install.
    pub fn history(&self) -> Cmd {
        self.base(&["history"])
            .args(["-o", "json"])
            .timeout(Duration::from_secs(60))
    }

    /// `helm get metadata -o json`: name, chart, version, appVersion, revision, status and
    /// deployedAt of the current revision (Helm 3.13 and later, Helm 4), and nothing else. Not
    /// `helm status -o json`: Helm 3 and 4 both print the whole release there, the values
    /// (`config`) and the rendered manifest with the Secret's `stringData` included. Exit 1
    /// with "release: not found" before the first install.
    pub fn metadata(&self) -> Cmd {
        self.base(&["get", "metadata"])
            .args(["-o", "json"])
            .timeout(Duration::from_secs(60))
    }

    pub fn rollback(&self, revision: u32) -> Cmd {
        self.cmd()
            .args([
                "rollback",
                self.name,
                &revision.to_string(),
                "--kube-context",
                self.context,
                "--namespace",
                self.namespace,
            ])
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }

    pub fn uninstall(&self) -> Cmd {
        self.base(&["uninstall"])
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }

    /// Runs the chart's test hooks. Without `--logs`: Helm 3 reads the logs after the
    /// `hook-succeeded` policy has deleted a passed test's pod, and so fails every passing
    /// run; a failed pod stays, and smoke reads its log itself.
    pub fn test(&self, timeout: Duration) -> Cmd {
        self.base(&["test"])
            .args([&format!("--timeout={}s", timeout.as_secs())])
            .timeout(timeout + Duration::from_secs(30))
            .mutating()
    }
}
