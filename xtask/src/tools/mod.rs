//! The external tools: where each comes from, how to read its version, and typed wrappers
//! that build the [`Cmd`] values tasks run. Every program the xtask runs is resolved here,
//! each with its `XTASK_<TOOL>` override: docker, minikube, kubectl, helm and kind, and the
//! project's toolchains and linters (cargo, uv, npm, node, hadolint, kubernetes-validate,
//! actionlint). One file per tool, each wrapper beside the parser of its output; this file
//! resolves them and reads versions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ctx::Env;
use crate::process::Cmd;

mod docker;
pub mod docker_api;
mod fetch;
mod helm;
mod kind;
mod kubectl;
mod minikube;
mod project;

pub use docker::*;
pub use fetch::*;
pub use helm::*;
pub use kind::*;
pub use kubectl::*;
pub use minikube::*;
pub use project::*;

/// Where a tool's binary was found; `doctor` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `XTASK_<NAME>` names it explicitly.
    Override(String),
    /// Installed by `cargo xtask setup` under `.tools/`.
    Project,
    Path,
    Missing,
}

#[derive(Clone, Debug)]
pub struct Tool {
    pub name: &'static str,
    pub program: PathBuf,
    pub source: Source,
}

impl Tool {
    pub fn found(&self) -> bool {
        self.source != Source::Missing
    }

    pub fn cmd(&self) -> Cmd {
        Cmd::new(self.program.to_string_lossy().into_owned())
    }

    pub fn origin(&self) -> String {
        match &self.source {
            Source::Override(var) => format!("{} (from ${var})", self.program.display()),
            Source::Project => format!("{} (project .tools/)", self.program.display()),
            Source::Path => format!("{} (PATH)", self.program.display()),
            Source::Missing => "not found".into(),
        }
    }
}

/// Resolution order: an explicit override, then the project's `.tools/`, then PATH.
pub fn resolve(root: &Path, env: &Env, name: &'static str) -> Tool {
    let var = format!("XTASK_{}", name.to_uppercase().replace('-', "_"));
    if let Some(p) = env.get(&var) {
        if !p.is_empty() {
            let program = which_in(env, p).unwrap_or_else(|| PathBuf::from(p));
            let source = if program.exists() {
                Source::Override(var)
            } else {
                Source::Missing
            };
            return Tool {
                name,
                program,
                source,
            };
        }
    }
    if let Some(p) = project_tool(root, name) {
        return Tool {
            name,
            program: p,
            source: Source::Project,
        };
    }
    match which_in(env, name) {
        Some(program) => Tool {
            name,
            program,
            source: Source::Path,
        },
        None => Tool {
            name,
            program: PathBuf::from(name),
            source: Source::Missing,
        },
    }
}

/// `.tools/<name>-<version>/<name>` written by `cargo xtask setup`; the newest wins.
fn project_tool(root: &Path, name: &str) -> Option<PathBuf> {
    let dir = root.join(".tools");
    let exe = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    let mut found: Vec<(Version, PathBuf)> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let ver = file.strip_prefix(&format!("{name}-"))?;
            let path = e.path().join(&exe);
            path.is_file()
                .then(|| (Version::parse(ver).unwrap_or_default(), path))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// All tools, resolved once per run.
#[derive(Clone, Debug)]
pub struct Tools {
    pub docker: Tool,
    pub minikube: Tool,
    pub kubectl: Tool,
    pub helm: Tool,
    /// A Helm 3 binary beside the default one, for checks that run both (`XTASK_HELM3`).
    pub helm3: Tool,
    /// kind, for `deploy --context kind-*` (`kind load docker-image`).
    pub kind: Tool,
    /// The cargo that runs this xtask (`$CARGO`) unless `XTASK_CARGO` names another.
    pub cargo: Tool,
    pub uv: Tool,
    pub npm: Tool,
    pub node: Tool,
    pub hadolint: Tool,
    pub kubernetes_validate: Tool,
    pub actionlint: Tool,
}

impl Tools {
    pub fn resolve(root: &Path, env: &Env) -> Self {
        let cargo = match env.get("CARGO") {
            Some(p) if !p.is_empty() && env.get("XTASK_CARGO").is_none() => Tool {
                name: "cargo",
                program: PathBuf::from(p),
                source: Source::Override("CARGO".into()),
            },
            _ => resolve(root, env, "cargo"),
        };
        Tools {
            docker: resolve(root, env, "docker"),
            minikube: resolve(root, env, "minikube"),
            kubectl: resolve(root, env, "kubectl"),
            helm: resolve(root, env, "helm"),
            helm3: resolve(root, env, "helm3"),
            kind: resolve(root, env, "kind"),
            cargo,
            uv: resolve(root, env, "uv"),
            npm: resolve(root, env, "npm"),
            node: resolve(root, env, "node"),
            hadolint: resolve(root, env, "hadolint"),
            kubernetes_validate: resolve(root, env, "kubernetes-validate"),
            actionlint: resolve(root, env, "actionlint"),
        }
    }
}

/// A program on PATH that the xtask only mentions (`doctor`'s optional helpers).
pub fn on_path(env: &Env, name: &str) -> Option<PathBuf> {
    which_in(env, name)
}

/// `which` over the environment's PATH (a path given with a slash is taken as it is).
fn which_in(env: &Env, name: &str) -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    which::which_in(name, env.get("PATH"), cwd).ok()
}

/// A program of the project itself, at a known path: the xtask's own binary, the backend's
/// console scripts in its virtualenv, Next.js's server. Nothing to resolve.
pub fn project_program(path: &Path) -> Cmd {
    Cmd::new(path.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------------------------------
// Versions

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Reads the first `vX.Y[.Z]` in a string: `v4.1.4`, `v3.17.3+ge4da497`,
    /// `20.10.24+dfsg1`, `v1.33.9`.
    pub fn parse(s: &str) -> Option<Version> {
        let start = s.find(|c: char| c.is_ascii_digit())?;
        let mut nums = s[start..]
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|n| n.parse::<u32>().ok());
        let major = nums.next()??;
        let minor = nums.next().flatten()?;
        let patch = nums.next().flatten().unwrap_or(0);
        Some(Version {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How long a quick query (a version, a status) may take.
const QUICK: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests;
