//! `docker`: its version and `info`, `build`, `run`, `image` and `save` commands. The Engine
//! API over the daemon's socket is `docker_api.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::process::Cmd;

use super::*;

/// `docker version --format '{{json .}}'`: the client always, the server when it answers.
#[derive(Debug, Deserialize)]
pub struct DockerVersion {
    #[serde(rename = "Client")]
    pub client: DockerPart,
    #[serde(rename = "Server")]
    pub server: Option<DockerPart>,
}

#[derive(Debug, Deserialize)]
pub struct DockerPart {
    #[serde(rename = "Version")]
    pub version: String,
}

pub fn parse_docker_version(stdout: &str) -> Result<DockerVersion> {
    serde_json::from_str(stdout.trim()).context("unexpected `docker version` output")
}

/// The fields of `docker system info --format '{{json .}}'` the xtask reads.
#[derive(Debug, Deserialize)]
pub struct DockerInfo {
    #[serde(rename = "OperatingSystem", default)]
    pub operating_system: String,
    /// Bytes the daemon's machine (Docker Desktop: its VM) has.
    #[serde(rename = "MemTotal", default)]
    pub mem_total: u64,
}

impl DockerInfo {
    /// Docker Desktop says so in `OperatingSystem` on every OS (minikube checks the same).
    pub fn docker_desktop(&self) -> bool {
        self.operating_system == "Docker Desktop"
    }
}

pub fn parse_docker_info(stdout: &str) -> Result<DockerInfo> {
    serde_json::from_str(stdout.trim()).context("unexpected `docker system info` output")
}

/// `docker`, optionally aimed at minikube's daemon through its docker-env variables.
pub struct Docker<'a> {
    pub tool: &'a Tool,
    pub env: &'a [(String, String)],
}

impl Docker<'_> {
    fn base(&self) -> Cmd {
        let mut c = self.tool.cmd();
        for (k, v) in self.env {
            c = c.env(k, v);
        }
        c
    }

    pub fn version(&self) -> Cmd {
        self.base()
            .args(["version", "--format", "{{json .}}"])
            .timeout(QUICK)
    }

    /// The daemon's own view (`docker system info`, as minikube reads it): OS, CPUs, memory.
    pub fn system_info(&self) -> Cmd {
        self.base()
            .args(["system", "info", "--format", "{{json .}}"])
            .timeout(QUICK)
    }

    /// Exit 0 with `<id> <size>` when the image exists in the daemon.
    pub fn image_inspect(&self, image: &str) -> Cmd {
        self.base()
            .args(["image", "inspect", "--format", "{{.Id}} {{.Size}}", image])
            .timeout(QUICK)
    }

    pub fn build(&self, spec: &BuildSpec) -> Cmd {
        // --force-rm: the classic builder otherwise leaves a failed step's container behind.
        let mut c = self.base().args(["build", "--force-rm"]);
        if let Some(n) = &spec.network {
            c = c.args(["--network", n]);
        }
        for (k, v) in &spec.build_args {
            c = c.args(["--build-arg", &format!("{k}={v}")]);
        }
        for (k, v) in &spec.labels {
            c = c.args(["--label", &format!("{k}={v}")]);
        }
        for t in &spec.tags {
            c = c.args(["-t", t]);
        }
        c.args(["-f", &spec.dockerfile.to_string_lossy()])
            .arg(spec.context.to_string_lossy())
            .timeout(Duration::from_secs(30 * 60))
            .mutating()
    }

    /// `docker run` on the host network (never a bridge), read-only root filesystem, a
    /// numeric non-root user and a tmpfs `/tmp`, as the images run in the cluster. Secret
    /// values travel in the client's environment (`-e NAME`), never on the command line.
    pub fn run_hardened(&self, spec: &RunSpec) -> Cmd {
        let mut c = self.base().args([
            "run",
            "--rm",
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--user",
            "10001:10001",
        ]);
        if let Some(n) = &spec.name {
            c = c.args(["--name", n]);
        }
        for t in &spec.tmpfs {
            c = c.args(["--tmpfs", &format!("{t}:uid=10001,gid=10001")]);
        }
        for (k, v) in &spec.env {
            c = c.args(["-e", &format!("{k}={v}")]);
        }
        for (k, v) in &spec.secret_env {
            c = c.args(["-e", k]).secret_env(k, v);
        }
        c.arg(&spec.image)
            .args(spec.command.iter().cloned())
            .mutating()
    }

    /// A second name for a local image (the registry-qualified one `push` sends).
    pub fn tag(&self, image: &str, target: &str) -> Cmd {
        self.base()
            .args(["tag", image, target])
            .timeout(QUICK)
            .mutating()
    }

    /// Pushes one tag; layers the registry already has are skipped by the registry protocol.
    pub fn push(&self, image: &str) -> Cmd {
        self.base()
            .args(["push", image])
            .timeout(Duration::from_secs(30 * 60))
            .mutating()
    }

    /// Asks the registry (with `docker login`'s credentials) whether a tag exists: exit 0
    /// with the manifest when it does; "no such manifest" (or "manifest unknown") when not.
    pub fn manifest_inspect(&self, image: &str) -> Cmd {
        self.base()
            .args(["manifest", "inspect", image])
            .timeout(Duration::from_secs(60))
    }

    /// Remove containers by name; missing ones are not an error.
    pub fn rm_force(&self, names: &[String]) -> Cmd {
        self.base()
            .args(["rm", "-f"])
            .args(names.iter().cloned())
            .timeout(Duration::from_secs(60))
            .mutating()
    }
}

pub struct BuildSpec {
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub network: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct RunSpec {
    pub image: String,
    pub name: Option<String>,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub secret_env: Vec<(String, String)>,
    /// Writable tmpfs mounts (owned by the container user) besides `/tmp`.
    pub tmpfs: Vec<String>,
}
