//! The external tools: where each comes from, how to read its version, and typed wrappers
//! that build the [`Cmd`] values tasks run. Every program the xtask runs is resolved here,
//! each with its `XTASK_<TOOL>` override: docker, minikube, kubectl, helm and kind, and the
//! project's toolchains and linters (cargo, uv, npm, node, hadolint, kubernetes-validate,
//! actionlint).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

use crate::process::Cmd;

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
pub fn resolve(root: &Path, name: &'static str) -> Tool {
    let var = format!("XTASK_{}", name.to_uppercase().replace('-', "_"));
    if let Ok(p) = std::env::var(&var) {
        if !p.is_empty() {
            let program = which::which(&p).unwrap_or_else(|_| PathBuf::from(&p));
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
    match which::which(name) {
        Ok(program) => Tool {
            name,
            program,
            source: Source::Path,
        },
        Err(_) => Tool {
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
    pub fn resolve(root: &Path) -> Self {
        let cargo = match std::env::var("CARGO") {
            Ok(p) if !p.is_empty() && std::env::var_os("XTASK_CARGO").is_none() => Tool {
                name: "cargo",
                program: PathBuf::from(p),
                source: Source::Override("CARGO".into()),
            },
            _ => resolve(root, "cargo"),
        };
        Tools {
            docker: resolve(root, "docker"),
            minikube: resolve(root, "minikube"),
            kubectl: resolve(root, "kubectl"),
            helm: resolve(root, "helm"),
            helm3: resolve(root, "helm3"),
            kind: resolve(root, "kind"),
            cargo,
            uv: resolve(root, "uv"),
            npm: resolve(root, "npm"),
            node: resolve(root, "node"),
            hadolint: resolve(root, "hadolint"),
            kubernetes_validate: resolve(root, "kubernetes-validate"),
            actionlint: resolve(root, "actionlint"),
        }
    }
}

/// A program on PATH that the xtask only mentions (`doctor`'s optional helpers).
pub fn on_path(name: &str) -> Option<PathBuf> {
    which::which(name).ok()
}

/// A program of the project itself, at a known path: the xtask's own binary, the backend's
/// console scripts in its virtualenv, Next.js's server. Nothing to resolve.
pub fn project_program(path: &Path) -> Cmd {
    Cmd::new(path.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------------------------------
// The project's toolchains and linters

impl Tool {
    /// This tool in a folder of the repository, its output streamed: `npm test` in
    /// frontend/, `uv run pytest` in backend/, `cargo clippy` at the root.
    pub fn in_dir(&self, dir: &Path, args: &[&str]) -> Cmd {
        self.cmd()
            .args(args.iter().copied())
            .cwd(dir)
            .output(crate::process::Output::Stream)
    }
}

/// `kubernetes-validate --strict --quiet -k VERSION FILE...`: schema validation, offline.
pub fn kubernetes_validate(tool: &Tool, version: &str, files: &[PathBuf]) -> Cmd {
    tool.cmd()
        .args(["--strict", "--quiet", "-k", version])
        .args(files.iter().map(|f| f.display().to_string()))
        .timeout(Duration::from_secs(120))
}

/// `sha256sum FILE...` in `dir`: the bench's physical limit for hashing the same bytes.
pub fn sha256sum(dir: &Path, files: &[PathBuf]) -> Cmd {
    Cmd::new("sha256sum")
        .args(files.iter().map(|f| f.display().to_string()))
        .cwd(dir)
}

/// `hadolint FILE...`
pub fn hadolint(tool: &Tool, files: &[PathBuf]) -> Cmd {
    tool.cmd()
        .args(files.iter().map(|f| f.display().to_string()))
}

/// `actionlint` at the repository root (it finds `.github/workflows` itself).
pub fn actionlint(tool: &Tool, root: &Path) -> Cmd {
    tool.cmd().cwd(root)
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

// ---------------------------------------------------------------------------------------
// Typed wrappers: each method returns the command; the caller runs it through `Ctx`.

const QUICK: Duration = Duration::from_secs(20);

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

/// `curl` fetching one URL into a file. It fails on HTTP errors, follows redirects, retries
/// any error (a connection dropped mid-body included) with a fixed delay, resumes a partial
/// file (`-C -`), and reads `HTTPS_PROXY` / `NO_PROXY` from the environment by itself.
pub struct Curl<'a> {
    pub tool: &'a Tool,
    /// The limit for one attempt (`--max-time`).
    pub max_time: Duration,
    /// curl's own progress bar, drawn straight on the terminal; `-sS` (errors only) otherwise.
    pub progress: bool,
}

impl Curl<'_> {
    pub const RETRIES: u64 = 5;

    pub fn download(&self, url: &str, to: &Path) -> Cmd {
        let secs = self.max_time.as_secs().max(1);
        let c = self.tool.cmd().args([
            "--fail",
            "--location",
            "--retry",
            &Self::RETRIES.to_string(),
            "--retry-delay",
            "1",
            "--retry-all-errors",
            "--connect-timeout",
            "15",
            "--max-time",
            &secs.to_string(),
            "-C",
            "-",
            "-o",
            &to.to_string_lossy(),
        ]);
        let c = if self.progress {
            c.arg("--progress-bar")
                .output(crate::process::Output::Inherit)
        } else {
            c.arg("-sS")
        };
        // Every attempt may use its whole budget, plus the pause between attempts.
        let all = (secs + 1) * (Self::RETRIES + 1) + 30;
        c.arg(url).timeout(Duration::from_secs(all)).mutating()
    }
}

/// `tar`, which unpacks `.tar.gz` everywhere and, as the bsdtar Windows ships, `.zip` too.
pub struct Tar<'a> {
    pub tool: &'a Tool,
}

impl Tar<'_> {
    pub fn extract(&self, archive: &Path, into: &Path) -> Cmd {
        self.tool
            .cmd()
            .args([
                "-xf",
                &archive.to_string_lossy(),
                "-C",
                &into.to_string_lossy(),
            ])
            .timeout(Duration::from_secs(120))
            .mutating()
    }
}

// ---------------------------------------------------------------------------------------
// Cluster wrappers: every command `up`, `deploy`, `smoke`, `status`, `logs`,
// `diagnose`, `down` and `stability` run against minikube, kubectl and helm.

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

/// The CI machine's `cluster-up.sh` (`XTASK_CLUSTER_UP`): `--load` puts images from the
/// Docker engine straight into the node, as `minikube image load` would.
pub fn cluster_up_load(script: &Path, images: &[String]) -> Cmd {
    Cmd::new("bash")
        .arg(script.to_string_lossy())
        .arg("--load")
        .args(images.iter().cloned())
        .timeout(Duration::from_secs(15 * 60))
        .mutating()
}

/// kind, for clusters whose nodes are Docker containers: images reach them by `kind load`.
pub struct Kind<'a> {
    pub tool: &'a Tool,
}

impl Kind<'_> {
    /// Copies an image from the host daemon into every node of `cluster`; kind itself skips
    /// the nodes that already have that image ID ("found to be already present on all nodes").
    pub fn load_docker_image(&self, cluster: &str, image: &str) -> Cmd {
        self.tool
            .cmd()
            .args(["load", "docker-image", image, "--name", cluster])
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
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

    fn base(&self, verb: &str) -> Cmd {
        self.cmd().args([
            verb,
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
        self.base("history")
            .args(["-o", "json"])
            .timeout(Duration::from_secs(60))
    }

    /// `helm get metadata -o json`: name, chart, version, appVersion, revision, status and
    /// deployedAt of the current revision (Helm 3.13 and later, Helm 4), and nothing else. Not
    /// `helm status -o json`: Helm 3 and 4 both print the whole release there, the values
    /// (`config`) and the rendered manifest with the Secret's `stringData` included. Exit 1
    /// with "release: not found" before the first install.
    pub fn metadata(&self) -> Cmd {
        self.cmd()
            .args([
                "get",
                "metadata",
                self.name,
                "--kube-context",
                self.context,
                "--namespace",
                self.namespace,
                "-o",
                "json",
            ])
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
        self.base("uninstall")
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }

    /// Runs the chart's test hooks. Without `--logs`: Helm 3 reads the logs after the
    /// `hook-succeeded` policy has deleted a passed test's pod, and so fails every passing
    /// run (helm/helm#9098); a failed pod stays, and smoke reads its log itself.
    pub fn test(&self, timeout: Duration) -> Cmd {
        self.base("test")
            .args([&format!("--timeout={}s", timeout.as_secs())])
            .timeout(timeout + Duration::from_secs(30))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tools")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn helm_versions_from_real_output() {
        assert_eq!(
            Version::parse(&fixture("helm4-version.txt")),
            Some(Version::new(4, 1, 4))
        );
        assert_eq!(
            Version::parse(&fixture("helm3-version.txt")),
            Some(Version::new(3, 17, 3))
        );
        // The full BuildInfo line reads the same, although GoVersion comes later in it.
        assert_eq!(
            Version::parse(&fixture("helm3-version-full.txt")),
            Some(Version::new(3, 17, 3))
        );
    }

    #[test]
    fn kubectl_version_from_real_output() {
        let (client, server) =
            parse_kubectl_version(&fixture("kubectl-version-client.json")).unwrap();
        assert_eq!(client, Version::new(1, 33, 9));
        assert_eq!(server, None);
        let with_server = r#"{"clientVersion":{"gitVersion":"v1.33.9"},"serverVersion":{"gitVersion":"v1.31.0"}}"#;
        assert_eq!(
            parse_kubectl_version(with_server).unwrap().1,
            Some(Version::new(1, 31, 0))
        );
    }

    #[test]
    fn docker_version_from_real_output() {
        let up = parse_docker_version(&fixture("docker-version.json")).unwrap();
        assert_eq!(
            Version::parse(&up.client.version),
            Some(Version::new(28, 2, 2))
        );
        let server = up.server.unwrap();
        assert_eq!(
            Version::parse(&server.version),
            Some(Version::new(20, 10, 24))
        );
        let down = parse_docker_version(&fixture("docker-version-daemon-down.json")).unwrap();
        assert!(down.server.is_none());
    }

    #[test]
    fn minikube_outputs_from_documented_shapes() {
        assert_eq!(
            parse_minikube_version(&fixture("minikube-version.json")).unwrap(),
            Version::new(1, 34, 0)
        );
        let profiles = parse_profiles(&fixture("minikube-profile-list.json")).unwrap();
        let cfg = profiles[0].config.as_ref().unwrap();
        assert_eq!(
            (profiles[0].name.as_str(), profiles[0].status.as_str()),
            ("minikube", "Running")
        );
        assert_eq!(
            (cfg.memory_mb, cfg.cpus, cfg.driver.as_str()),
            (4096, 2, "docker")
        );
        assert_eq!(cfg.kubernetes.as_ref().unwrap().runtime, "docker");
        assert!(
            parse_minikube_status(&fixture("minikube-status-running.json"))
                .unwrap()
                .running()
        );
        assert!(
            !parse_minikube_status(&fixture("minikube-status-stopped.json"))
                .unwrap()
                .running()
        );
        assert!(parse_addons(&fixture("minikube-addons-list.json")).unwrap()["ingress"]);
    }

    #[test]
    fn minikube_status_of_a_multi_node_profile_is_an_array() {
        let two = parse_minikube_status(&fixture("minikube-status-multinode.json")).unwrap();
        assert_eq!(two.nodes.len(), 2);
        assert!(two.running(), "{two:?}");
        assert_eq!(two.control_plane().unwrap().name, "minikube");
        assert!(two.nodes[1].worker);
        // A stopped worker: the profile is not fully running, and says which node.
        let half = parse_minikube_status(&fixture("minikube-status-multinode-worker-stopped.json"))
            .unwrap();
        assert!(!half.running());
        assert_eq!(half.summary(), "minikube Running, minikube-m02 Stopped");
    }

    #[test]
    fn minikube_status_with_a_stale_kubeconfig() {
        let s = parse_minikube_status(&fixture("minikube-status-misconfigured.json")).unwrap();
        assert!(s.running());
        assert!(s.kubeconfig_stale());
        assert!(
            !parse_minikube_status(&fixture("minikube-status-running.json"))
                .unwrap()
                .kubeconfig_stale()
        );
    }

    #[test]
    fn docker_system_info_from_a_real_engine_and_docker_desktop() {
        let linux = parse_docker_info(&fixture("docker-system-info.json")).unwrap();
        assert!(!linux.docker_desktop());
        assert!(linux.mem_total > 0);
        let desktop = parse_docker_info(&fixture("docker-system-info-desktop.json")).unwrap();
        assert!(desktop.docker_desktop());
        assert_eq!(desktop.mem_total >> 20, 2996);
    }

    #[test]
    fn docker_env_parsing() {
        let vars = parse_docker_env(&fixture("minikube-docker-env.txt")).unwrap();
        assert_eq!(
            vars[1],
            ("DOCKER_HOST".into(), "tcp://192.168.49.2:2376".into())
        );
        assert_eq!(vars.len(), 4);
        // The bash form with `export` and quotes is not what we ask for; a missing host is an error.
        assert!(parse_docker_env("# nothing\n").is_err());
    }

    #[test]
    fn version_parse_edge_cases() {
        assert_eq!(Version::parse("v1.32"), Some(Version::new(1, 32, 0)));
        assert_eq!(Version::parse("none"), None);
        assert!(Version::new(3, 14, 0) < Version::new(3, 17, 3));
        assert!(Version::new(4, 0, 0) > Version::new(3, 99, 0));
    }
}
