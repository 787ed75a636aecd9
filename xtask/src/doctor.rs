//! `cargo xtask doctor`: every prerequisite, one line each (✓ / ! / ✗), with the found
//! version and, for anything not ✓, the exact fix. Failures carry stable ids and exit codes,
//! as minikube's do, so scripts and CI can branch on them.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::Result;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::guide::{self, Entry};
use crate::process::Outcome;
use crate::tools::{self, Docker, Helm, Kubectl, Minikube, Profile, Tool, Version};
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only the checks `deploy` needs (tools and daemon), not the cluster's state.
    #[arg(long)]
    pub required_only: bool,
}

pub const MIN_MINIKUBE: Version = Version::new(1, 32, 0);
pub const MIN_KUBECTL: Version = Version::new(1, 28, 0);
pub const MIN_HELM: Version = Version::new(3, 14, 0);
pub const MIN_MEMORY_MB: u64 = 4096;
pub const MIN_CPUS: u32 = 2;

/// Stable problem ids, their exit codes and their troubleshooting entries (the guide,
/// `docs/troubleshooting.md`, is generated from this table by `cargo xtask render`). Ranges
/// follow minikube's: 2x resources, 4x client tools, 7x the cluster, 8x the container provider
/// (Docker), 9x the checks; 1x the profile's settings; 5x–6x are deploy's failures
/// (`kube::Kind`).
/// Declares [`Problem`] from its table rows: `Variant => Entry { .. },`. The variant is the
/// id in CamelCase; `Problem::entry` gives the row, `Problem::ALL` the table.
macro_rules! doctor_problems {
    ($($variant:ident => $entry:expr),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Problem {
            $($variant,)*
        }

        impl Problem {
            /// Every problem, in the table's order.
            pub const ALL: &'static [Problem] = &[$(Problem::$variant),*];

            /// The problem's row of the troubleshooting guide.
            pub fn entry(self) -> &'static Entry {
                match self {
                    $(Problem::$variant => {
                        const ENTRY: Entry = $entry;
                        &ENTRY
                    })*
                }
            }
        }
    };
}

doctor_problems! {
    MinikubeProfileMismatch => Entry {
        id: "MINIKUBE_PROFILE_MISMATCH",
        exit_code: 11,
        warning: false,
        title: "the profile exists with other settings than the ones asked for",
        symptom: "`up` or `deploy` stops before `minikube start`, naming the existing profile's driver, memory or CPUs beside the ones given with `--driver`, `--memory`, `--cpus` or `--kubernetes-version`.",
        cause: "minikube fixes a profile's driver, memory and CPUs when it creates it: an existing profile ignores new values (or, for the driver, exits GuestDrvMismatch; for an older Kubernetes, refuses to downgrade).",
        fix: "Drop the flag to use the profile as it is, or `minikube delete -p <profile>` and run `cargo xtask up` with the new settings (the profile's data is lost).",
    },
    MinikubeDriverAsRoot => Entry {
        id: "MINIKUBE_DRIVER_AS_ROOT",
        exit_code: 12,
        warning: false,
        title: "the docker or podman driver as root",
        symptom: "`up` stops before `minikube start`: minikube refuses the docker driver with root privileges (it exits DRV_AS_ROOT).",
        cause: "minikube refuses to run the docker and podman drivers as root unless given `--force`.",
        fix: "Run as a user in the docker group (`sudo usermod -aG docker $USER`, then log in again), or use a VM driver.",
    },
    ClusterRequestsDoNotFit => Entry {
        id: "CLUSTER_REQUESTS_DO_NOT_FIT",
        exit_code: 20,
        warning: false,
        title: "the release does not fit the running cluster",
        symptom: "`doctor` shows `✗ cluster room` with the release's CPU and memory requests beside what the nodes have left.",
        cause: "The nodes' allocatable CPU or memory, minus what the other pods already request, is less than the release's requests: some pods would stay Pending.",
        fix: "Free room (delete other workloads), lower `resources.<component>.requests`, or give the cluster more (`minikube delete -p <profile> && cargo xtask up --cpus 4 --memory 8192`).",
    },
    DockerMemoryLow => Entry {
        id: "DOCKER_MEMORY_LOW",
        exit_code: 22,
        warning: false,
        title: "Docker Desktop has too little memory for a 4 GB profile",
        symptom: "`up` stops before creating the profile, naming Docker Desktop's memory (`docker info` MemTotal).",
        cause: "minikube's docker driver runs inside Docker Desktop's VM, which has less memory than the profile would ask for.",
        fix: "Raise Docker Desktop's memory (Settings → Resources) to at least 6 GB, restart it, then `cargo xtask up`.",
    },
    MinikubeMemoryLow => Entry {
        id: "MINIKUBE_MEMORY_LOW",
        exit_code: 23,
        warning: false,
        title: "the minikube profile has less than 4 GB",
        symptom: "`doctor` shows `✗ minikube memory` below 4096 MB; `up` and `deploy` stop before starting anything.",
        cause: "The profile was created with less memory than the release and minikube's system pods need (4 GB). A profile's memory is fixed when it is created.",
        fix: "Recreate the profile: `minikube delete -p <profile> && cargo xtask up` (4096 MB, 2 CPUs), or use another one with `--profile NAME`.",
    },
    MinikubeCpusLow => Entry {
        id: "MINIKUBE_CPUS_LOW",
        exit_code: 29,
        warning: false,
        title: "the minikube profile has fewer than 2 CPUs",
        symptom: "`doctor` shows `✗ minikube cpus` below 2; `up` and `deploy` stop before starting anything.",
        cause: "The profile was created with fewer CPUs than the release's requests and minikube's system pods need. A profile's CPUs are fixed when it is created.",
        fix: "Recreate the profile: `minikube delete -p <profile> && cargo xtask up`, or use another one with `--profile NAME`.",
    },
    ToolMinikubeMissing => Entry {
        id: "TOOL_MINIKUBE_MISSING",
        exit_code: 41,
        warning: false,
        title: "minikube is not installed",
        symptom: "`doctor` shows `✗ minikube  not found`.",
        cause: "No minikube is named by `XTASK_MINIKUBE`, installed in the project's `.tools/`, or on PATH.",
        fix: "`cargo xtask setup minikube` fetches the pinned version into `.tools/` (sha256-verified); or install it (https://minikube.sigs.k8s.io/docs/start/).",
    },
    ToolMinikubeTooOld => Entry {
        id: "TOOL_MINIKUBE_TOO_OLD",
        exit_code: 42,
        warning: false,
        title: "minikube is older than 1.32",
        symptom: "`doctor` shows `✗ minikube` with a version below 1.32.0.",
        cause: "Older minikube releases lack the flags and JSON output the xtask reads.",
        fix: "`cargo xtask setup minikube --force` installs the pinned version into `.tools/` (used before PATH); or upgrade your installation.",
    },
    ToolKubectlMissing => Entry {
        id: "TOOL_KUBECTL_MISSING",
        exit_code: 43,
        warning: false,
        title: "kubectl is not installed",
        symptom: "`doctor` shows `✗ kubectl  not found`.",
        cause: "No kubectl is named by `XTASK_KUBECTL`, installed in `.tools/`, or on PATH.",
        fix: "`cargo xtask setup kubectl`; or install it (https://kubernetes.io/docs/tasks/tools/).",
    },
    ToolKubectlTooOld => Entry {
        id: "TOOL_KUBECTL_TOO_OLD",
        exit_code: 44,
        warning: false,
        title: "kubectl is older than 1.28",
        symptom: "`doctor` shows `✗ kubectl` with a client version below 1.28.0.",
        cause: "The chart needs Kubernetes ≥ 1.28, and kubectl supports one minor version of skew.",
        fix: "`cargo xtask setup kubectl --force`; or upgrade your installation.",
    },
    ToolHelmMissing => Entry {
        id: "TOOL_HELM_MISSING",
        exit_code: 45,
        warning: false,
        title: "Helm is not installed",
        symptom: "`doctor` shows `✗ helm  not found`; `deploy` offers to run `setup` first.",
        cause: "No helm is named by `XTASK_HELM`, installed in `.tools/`, or on PATH.",
        fix: "`cargo xtask setup helm`; or install Helm 3.14+ or 4 (https://helm.sh/docs/intro/install/).",
    },
    ToolHelmTooOld => Entry {
        id: "TOOL_HELM_TOO_OLD",
        exit_code: 46,
        warning: false,
        title: "Helm is older than 3.14",
        symptom: "`doctor` shows `✗ helm` with a version below 3.14.0.",
        cause: "The chart and the xtask's Helm commands need Helm 3.14 or later (Helm 3 or 4).",
        fix: "`cargo xtask setup helm --force`; or upgrade your installation.",
    },
    KubectlVersionSkew => Entry {
        id: "KUBECTL_VERSION_SKEW",
        exit_code: 47,
        warning: true,
        title: "kubectl and the cluster are more than one minor apart",
        symptom: "`doctor` shows `! kubectl skew` with the client and server versions.",
        cause: "kubectl supports one minor version of skew against the API server; beyond that some commands may misbehave.",
        fix: "Use a kubectl within one minor version of the server (`minikube kubectl --` always matches), or `cargo xtask setup kubectl`.",
    },
    MinikubeNotRunning => Entry {
        id: "MINIKUBE_NOT_RUNNING",
        exit_code: 70,
        warning: true,
        title: "the minikube profile is not running",
        symptom: "`doctor` shows `! minikube profile` not running, or not existing yet.",
        cause: "The profile was never created, or was stopped (`minikube stop`, a reboot).",
        fix: "`cargo xtask up` creates or starts it (`deploy` does so by itself).",
    },
    MinikubeRuntimeNotDocker => Entry {
        id: "MINIKUBE_RUNTIME_NOT_DOCKER",
        exit_code: 71,
        warning: true,
        title: "the profile's container runtime is not Docker",
        symptom: "`doctor` shows `! container runtime` containerd or cri-o.",
        cause: "The profile was created with another runtime, so images cannot be built straight into the node's daemon.",
        fix: "Nothing is required: images are built on the host and copied in with `minikube image load` (slower). `minikube delete -p <profile> && cargo xtask up` recreates it with Docker.",
    },
    IngressAddonDisabled => Entry {
        id: "INGRESS_ADDON_DISABLED",
        exit_code: 72,
        warning: true,
        title: "minikube's ingress addon is off",
        symptom: "`doctor` shows `! ingress addon  disabled`; http://todo.local does not answer.",
        cause: "The profile's ingress controller is not enabled, so the chart's Ingress has nothing to serve it.",
        fix: "`minikube -p <profile> addons enable ingress`, or `cargo xtask up` (it enables it).",
    },
    HostsEntryMissing => Entry {
        id: "HOSTS_ENTRY_MISSING",
        exit_code: 73,
        warning: true,
        title: "todo.local does not resolve to the cluster",
        symptom: "`doctor` shows `! todo.local` with no or another address in the hosts file; the browser cannot open http://todo.local.",
        cause: "The ingress answers for the host name todo.local, which only the hosts file maps to minikube's address.",
        fix: "Add the line `doctor` prints (`$(minikube ip) todo.local`; `127.0.0.1 todo.local` with `minikube tunnel` on macOS and Windows) to /etc/hosts. `cargo xtask smoke` needs no entry.",
    },
    MinikubeKubeconfigStale => Entry {
        id: "MINIKUBE_KUBECONFIG_STALE",
        exit_code: 74,
        warning: true,
        title: "the profile's kube context is stale",
        symptom: "`doctor` shows `! kubeconfig` Misconfigured while the profile runs; `up` says it runs `minikube update-context`.",
        cause: "The profile's API server moved (a restart gave it a new address or port) and the kubeconfig still names the old one.",
        fix: "`minikube -p <profile> update-context` (`cargo xtask up` runs it).",
    },
    HostsEntryConflict => Entry {
        id: "HOSTS_ENTRY_CONFLICT",
        exit_code: 76,
        warning: true,
        title: "the hosts file names todo.local twice",
        symptom: "`doctor` shows `! todo.local` with the line that takes effect and a later one that disagrees.",
        cause: "glibc uses the first matching line of /etc/hosts; a later correction appended to the file has no effect.",
        fix: "Edit the hosts file so the first `todo.local` line has the address `doctor` prints, and remove the others.",
    },
    ContextUnreachable => Entry {
        id: "CONTEXT_UNREACHABLE",
        exit_code: 77,
        warning: false,
        title: "the kube context's API does not answer",
        symptom: "`doctor --context NAME` shows `✗ kube context` with kubectl's error; `deploy --context NAME` stops before building.",
        cause: "The context is not in `$KUBECONFIG`, its cluster is stopped, or this machine cannot reach its API server (VPN, expired credentials).",
        fix: "`kubectl --context NAME cluster-info` shows what kubectl sees; `kubectl config get-contexts` lists the contexts of `$KUBECONFIG`. Start the cluster, or fix `$KUBECONFIG`.",
    },
    IngressClassMissing => Entry {
        id: "INGRESS_CLASS_MISSING",
        exit_code: 78,
        warning: true,
        title: "the cluster has no IngressClass `nginx`",
        symptom: "`doctor --context NAME` shows `! ingress class` with the classes the cluster has; http://todo.local does not answer after a deploy.",
        cause: "The chart's Ingress asks for class `nginx`, and no ingress controller in that cluster serves it.",
        fix: "Deploy with `--set ingress.ingressClassName=<a class the cluster has>`, or install ingress-nginx (https://kubernetes.github.io/ingress-nginx/deploy/); without one, `kubectl port-forward svc/frontend-service 3000` reaches the app.",
    },
    ToolDockerMissing => Entry {
        id: "TOOL_DOCKER_MISSING",
        exit_code: 82,
        warning: false,
        title: "Docker is not installed",
        symptom: "`doctor` shows `✗ docker  not found`.",
        cause: "No docker CLI is named by `XTASK_DOCKER` or on PATH; it needs a system service, so `setup` does not fetch it.",
        fix: "Install Docker Engine (Linux: https://docs.docker.com/engine/install/) or Docker Desktop (macOS, Windows), then add yourself to the docker group.",
    },
    DockerDaemonDown => Entry {
        id: "DOCKER_DAEMON_DOWN",
        exit_code: 89,
        warning: false,
        title: "the Docker daemon does not answer",
        symptom: "`doctor` shows `✗ docker` with `the host daemon does not answer` and Docker's own error.",
        cause: "The daemon is stopped, or `DOCKER_HOST` points at one that is gone (e.g. a deleted minikube's), or you lack permission on its socket.",
        fix: "Start it (`sudo systemctl start docker`; Docker Desktop: start it and wait), unset a stale `DOCKER_HOST`, or join the docker group and log in again.",
    },
    CheckError => Entry {
        id: "CHECK_ERROR",
        exit_code: 98,
        warning: false,
        title: "a check could not run",
        symptom: "`doctor` shows `✗ <check>  the check failed: ...` with the error.",
        cause: "A tool answered in a way the check could not read (an unexpected version format, a timeout, a broken installation).",
        fix: "Run `cargo xtask doctor -v` to see every command; `cargo xtask diagnose` collects details.",
    },
    CheckCrashed => Entry {
        id: "CHECK_CRASHED",
        exit_code: 99,
        warning: false,
        title: "a check crashed",
        symptom: "`doctor` shows `✗ <check>  the check crashed`.",
        cause: "A bug in the xtask.",
        fix: "Report it with the output of `cargo xtask doctor -v`.",
    },
}

impl Problem {
    /// The stable id (SCREAMING_SNAKE_CASE) that messages and `--json` show.
    pub fn id(self) -> &'static str {
        self.entry().id
    }

    /// What the process exits with when this problem stops a task.
    pub fn exit_code(self) -> u8 {
        self.entry().exit_code
    }
}

/// The doctor's rows of the troubleshooting guide, in the table's order.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    Problem::ALL.iter().map(|p| p.entry())
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Works, but worth knowing (or fixed by a later task such as `up`).
    Warn,
    Fail,
    /// Optional helpers: never affect the exit code.
    Info,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub level: Level,
    pub found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, found: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            level: Level::Ok,
            found: found.into(),
            id: None,
            fix: None,
        }
    }

    fn problem(
        name: &str,
        level: Level,
        found: impl Into<String>,
        id: Problem,
        fix: impl Into<String>,
    ) -> Self {
        // Every problem points at its entry in the troubleshooting guide.
        let fix = format!("{} ({})", fix.into(), guide::see(id.id()));
        Check {
            name: name.into(),
            level,
            found: found.into(),
            id: Some(id),
            fix: Some(fix),
        }
    }

    fn mark(&self) -> &'static str {
        match self.level {
            Level::Ok => "✓",
            Level::Warn | Level::Info => "!",
            Level::Fail => "✗",
        }
    }
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let checks = run_checks(ctx, self.required_only);
        if ctx.global.json {
            ctx.show(serde_json::to_string_pretty(&checks)?);
        } else {
            print_checks(ctx, &checks);
        }
        match first_failure(&checks) {
            Some(id) => Err(Exit(id.exit_code()).into()),
            None => Ok(()),
        }
    }
}

pub fn first_failure(checks: &[Check]) -> Option<Problem> {
    checks
        .iter()
        .find(|c| c.level == Level::Fail)
        .and_then(|c| c.id)
}

pub fn print_checks(ctx: &Ctx, checks: &[Check]) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let id =
            c.id.filter(|_| c.level != Level::Ok)
                .map(|i| format!("  [{i}]"))
                .unwrap_or_default();
        ctx.show(format!("{} {:width$}  {}{id}", c.mark(), c.name, c.found));
        if let Some(fix) = &c.fix {
            for line in fix.lines() {
                ctx.show(format!("    {line}"));
            }
        }
    }
}

/// Runs each check on its own: a check that errors or panics becomes its own ✗ line and the
/// others still run.
pub fn run_checks(ctx: &Ctx, required_only: bool) -> Vec<Check> {
    let mut state = State::default();
    let mut checks = Vec::new();
    // With --context the cluster is not minikube's: no minikube checks, the context's own.
    let minikube = crate::cluster::on_minikube(ctx);
    let mut steps: Vec<(&str, CheckFn)> = vec![("docker", check_docker)];
    if minikube {
        steps.push(("minikube", check_minikube));
    }
    steps.extend([("kubectl", check_kubectl as CheckFn), ("helm", check_helm)]);
    if !required_only && minikube {
        steps.extend([
            ("minikube profile", check_profile as CheckFn),
            ("cluster room", check_room),
            ("ingress addon", check_ingress),
            ("todo.local", check_hosts),
        ]);
    } else if !required_only {
        steps.push(("kube context", check_context as CheckFn));
    }
    if !required_only {
        steps.push(("optional helpers", check_helpers as CheckFn));
    }
    for (name, f) in steps {
        match catch_unwind(AssertUnwindSafe(|| f(ctx, &mut state))) {
            Ok(Ok(mut found)) => checks.append(&mut found),
            Ok(Err(e)) => checks.push(Check::problem(
                name,
                Level::Fail,
                format!("the check failed: {}", crate::process::redact(&format!("{e:#}"))),
                Problem::CheckError,
                "run again with -v to see the commands; `cargo xtask diagnose` collects details",
            )),
            Err(_) => checks.push(Check::problem(
                name,
                Level::Fail,
                "the check crashed",
                Problem::CheckCrashed,
                "this is a bug in the xtask: please report it with the output of `cargo xtask doctor -v`",
            )),
        }
    }
    checks
}

type CheckFn = fn(&Ctx, &mut State) -> Result<Vec<Check>>;

/// Facts one check learns and a later one needs.
#[derive(Default)]
struct State {
    minikube_ok: bool,
    profile: Option<Profile>,
    running: bool,
    server_version: Option<Version>,
}

fn os() -> &'static str {
    std::env::consts::OS
}

/// The per-OS install instruction for a tool.
pub fn install_hint(tool: &str) -> String {
    let setup = "or run `cargo xtask setup` to fetch the pinned version into .tools/";
    match (tool, os()) {
        ("docker", "macos") => "install Docker Desktop: `brew install --cask docker` (https://docs.docker.com/desktop/setup/install/mac-install/)".into(),
        ("docker", "windows") => "install Docker Desktop: `winget install Docker.DockerDesktop` (https://docs.docker.com/desktop/setup/install/windows-install/)".into(),
        ("docker", _) => "install Docker Engine: https://docs.docker.com/engine/install/ (Debian/Ubuntu: `sudo apt-get install docker.io`), then add yourself to the docker group".into(),
        ("minikube", "macos") => format!("`brew install minikube`, {setup}"),
        ("minikube", "windows") => format!("`winget install Kubernetes.minikube`, {setup}"),
        ("minikube", _) => format!("https://minikube.sigs.k8s.io/docs/start/ (Linux x86-64: the minikube-linux-amd64 release binary), {setup}"),
        ("kubectl", "macos") => format!("`brew install kubectl`, {setup}"),
        ("kubectl", "windows") => format!("`winget install Kubernetes.kubectl`, {setup}"),
        ("kubectl", _) => format!("https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/, {setup}"),
        ("helm", "macos") => format!("`brew install helm`, {setup}"),
        ("helm", "windows") => format!("`winget install Helm.Helm`, {setup}"),
        ("helm", _) => format!("https://helm.sh/docs/intro/install/, {setup}"),
        (other, _) => format!("install {other}"),
    }
}

fn missing(tool: &Tool, id: Problem) -> Check {
    Check::problem(
        tool.name,
        Level::Fail,
        "not found",
        id,
        install_hint(tool.name),
    )
}

fn version_line(v: Version, tool: &Tool) -> String {
    format!("{v}  {}", tool.origin())
}

fn check_docker(ctx: &Ctx, _: &mut State) -> Result<Vec<Check>> {
    let tool = &ctx.tools.docker;
    if !tool.found() {
        return Ok(vec![missing(tool, Problem::ToolDockerMissing)]);
    }
    let out = ctx.run(&Docker { tool, env: &[] }.version())?;
    let parsed = tools::parse_docker_version(&out.stdout);
    let daemon = match ctx.env.get("DOCKER_HOST") {
        Some(h) if ctx.env.get("MINIKUBE_ACTIVE_DOCKERD").is_some() => {
            format!("minikube's daemon ({h})")
        }
        Some(h) if !h.is_empty() => format!("daemon at {h}"),
        _ => "host daemon".to_string(),
    };
    match parsed {
        Ok(v) => match v.server {
            Some(server) => Ok(vec![Check::ok(
                "docker",
                format!(
                    "client {}, engine {} on {daemon}  {}",
                    v.client.version,
                    server.version,
                    tool.origin()
                ),
            )]),
            None => Ok(vec![daemon_down(&daemon, &out)]),
        },
        Err(_) => Ok(vec![daemon_down(&daemon, &out)]),
    }
}

/// What a tool said first, for a one-line finding.
fn first_line(stderr: &str) -> String {
    stderr
        .lines()
        .next()
        .unwrap_or("no answer")
        .trim()
        .to_string()
}

fn daemon_down(daemon: &str, out: &Outcome) -> Check {
    let fix = match os() {
        "linux" => "start it: `sudo systemctl start docker` (or `sudo service docker start`)",
        _ => "start Docker Desktop and wait until it says it is running",
    };
    let why = first_line(&out.stderr);
    Check::problem(
        "docker",
        Level::Fail,
        format!("the {daemon} does not answer: {why}"),
        Problem::DockerDaemonDown,
        fix,
    )
}

fn check_minikube(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    let tool = &ctx.tools.minikube;
    if !tool.found() {
        return Ok(vec![missing(tool, Problem::ToolMinikubeMissing)]);
    }
    let out = ctx.run_ok(
        &Minikube {
            tool,
            profile: &ctx.global.profile,
        }
        .version(),
    )?;
    let v = tools::parse_minikube_version(&out.stdout)?;
    if v < MIN_MINIKUBE {
        return Ok(vec![Check::problem(
            "minikube",
            Level::Fail,
            version_line(v, tool),
            Problem::ToolMinikubeTooOld,
            format!(
                "minikube ≥ {MIN_MINIKUBE} is needed: {}",
                install_hint("minikube")
            ),
        )]);
    }
    st.minikube_ok = true;
    Ok(vec![Check::ok("minikube", version_line(v, tool))])
}

fn check_kubectl(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    let tool = &ctx.tools.kubectl;
    if !tool.found() {
        return Ok(vec![missing(tool, Problem::ToolKubectlMissing)]);
    }
    let k = Kubectl { tool };
    let out = ctx.run_ok(&k.version_client())?;
    let (client, _) = tools::parse_kubectl_version(&out.stdout)?;
    if client < MIN_KUBECTL {
        return Ok(vec![Check::problem(
            "kubectl",
            Level::Fail,
            version_line(client, tool),
            Problem::ToolKubectlTooOld,
            format!(
                "kubectl ≥ {MIN_KUBECTL} is needed: {}",
                install_hint("kubectl")
            ),
        )]);
    }
    // The server part only answers with a cluster; its absence is the profile check's news.
    let server = ctx
        .run(&k.version(crate::cluster::kube_context(ctx)))
        .ok()
        .and_then(|o| tools::parse_kubectl_version(&o.stdout).ok())
        .and_then(|(_, s)| s);
    st.server_version = server;
    let mut checks = vec![Check::ok("kubectl", version_line(client, tool))];
    if let Some(s) = server {
        let skew = (client.minor as i64 - s.minor as i64).abs();
        if client.major != s.major || skew > 1 {
            checks.push(Check::problem(
                "kubectl skew",
                Level::Warn,
                format!("client {client}, server {s}: more than one minor version apart"),
                Problem::KubectlVersionSkew,
                format!("use a kubectl within one minor version of {s} (`minikube kubectl --` always matches)"),
            ));
        }
    }
    Ok(checks)
}

fn check_helm(ctx: &Ctx, _: &mut State) -> Result<Vec<Check>> {
    let tool = &ctx.tools.helm;
    if !tool.found() {
        return Ok(vec![missing(tool, Problem::ToolHelmMissing)]);
    }
    let out = ctx.run_ok(&Helm { tool }.version())?;
    let v = Version::parse(&out.stdout)
        .ok_or_else(|| anyhow::anyhow!("unreadable `helm version`: {:?}", out.stdout))?;
    if v < MIN_HELM {
        return Ok(vec![Check::problem(
            "helm",
            Level::Fail,
            version_line(v, tool),
            Problem::ToolHelmTooOld,
            format!(
                "Helm ≥ {MIN_HELM} (Helm 3 or 4) is needed: {}",
                install_hint("helm")
            ),
        )]);
    }
    Ok(vec![Check::ok(
        "helm",
        format!("{}  (Helm {})", version_line(v, tool), v.major),
    )])
}

fn check_profile(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    if !st.minikube_ok {
        return Ok(vec![]);
    }
    let name = ctx.global.profile.as_str();
    let mk = crate::cluster::minikube(ctx, name);
    let list = ctx.run(&mk.profile_list())?;
    let profile = tools::parse_profiles(&list.stdout)
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.name == name);
    let Some(profile) = profile else {
        // `up` and `deploy` read the same: no profile, so nothing runs.
        crate::cluster::remember_profile_view(ctx, (None, None));
        return Ok(vec![Check::problem(
            "minikube profile",
            Level::Warn,
            format!("profile `{name}` does not exist yet"),
            Problem::MinikubeNotRunning,
            "`cargo xtask up` creates and starts it (`deploy` does so too)",
        )]);
    };
    let mut checks = Vec::new();
    let cfg = profile.config.clone();
    let (driver, runtime) = cfg
        .as_ref()
        .map(|c| {
            (
                c.driver.clone(),
                c.kubernetes
                    .as_ref()
                    .map(|k| k.runtime.clone())
                    .unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let status = ctx.run(&mk.status())?;
    let parsed = tools::parse_minikube_status(&status.stdout);
    crate::cluster::remember_profile_view(ctx, (parsed.clone(), Some(profile.clone())));
    st.running = parsed.as_ref().is_some_and(|s| s.running());
    let nodes = parsed.as_ref().map(|s| s.nodes.len()).unwrap_or(1);
    let summary = format!(
        "`{name}`: {}, driver {driver}, runtime {runtime}{}",
        match &parsed {
            Some(_) if st.running => "Running".to_string(),
            Some(s) if nodes > 1 => format!("not running ({})", s.summary()),
            _ => "not running".to_string(),
        },
        if nodes > 1 {
            format!(", {nodes} nodes")
        } else {
            String::new()
        }
    );
    checks.push(if st.running {
        Check::ok("minikube profile", summary)
    } else {
        Check::problem(
            "minikube profile",
            Level::Warn,
            summary,
            Problem::MinikubeNotRunning,
            format!("`cargo xtask up` (or `minikube start -p {name}`)"),
        )
    });
    if parsed.as_ref().is_some_and(|s| s.kubeconfig_stale()) {
        checks.push(Check::problem(
            "kube context",
            Level::Warn,
            format!("`{name}` is Misconfigured: it points at an old address of the cluster"),
            Problem::MinikubeKubeconfigStale,
            format!("`minikube -p {name} update-context` (`cargo xtask up` does it)"),
        ));
    }
    if let Some(c) = &cfg {
        // What the profile was created with is fixed; whether the release fits is the
        // cluster-room check's question once it runs. A small stopped profile is worth a note.
        let memory = if c.memory_mb == 0 {
            "no limit".to_string()
        } else {
            format!("{} MB", c.memory_mb)
        };
        let small = |what: &str, id: Problem| {
            Check::problem(
                &format!("minikube {what}"),
                Level::Warn,
                if what == "memory" {
                    memory.clone()
                } else {
                    c.cpus.to_string()
                },
                id,
                format!(
                    "below the {MIN_MEMORY_MB} MB / {MIN_CPUS} CPUs `cargo xtask up` gives a new profile; once it runs, `cargo xtask doctor` checks that the release fits (`minikube delete -p {name} && cargo xtask up` recreates it bigger)"
                ),
            )
        };
        if c.memory_mb != 0 && c.memory_mb < MIN_MEMORY_MB && !st.running {
            checks.push(small("memory", Problem::MinikubeMemoryLow));
        } else {
            checks.push(Check::ok("minikube memory", memory.clone()));
        }
        if c.cpus != 0 && c.cpus < MIN_CPUS && !st.running {
            checks.push(small("cpus", Problem::MinikubeCpusLow));
        } else {
            checks.push(Check::ok("minikube cpus", c.cpus.to_string()));
        }
        if !runtime.is_empty() && runtime != "docker" {
            checks.push(Check::problem(
                "container runtime",
                Level::Warn,
                runtime.clone(),
                Problem::MinikubeRuntimeNotDocker,
                "images are built on the host and copied in with `minikube image load` (slower); `--container-runtime=docker` avoids the copy",
            ));
        }
    }
    st.profile = Some(profile);
    Ok(checks)
}

/// The release's requests (the chart as `deploy` renders it) against what the running
/// cluster's nodes have left: allocatable minus every other pod's requests.
fn check_room(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    if !st.running || !ctx.tools.helm.found() || !ctx.tools.kubectl.found() {
        return Ok(vec![]);
    }
    let Some(app_version) = crate::services::app_version(&ctx.root)? else {
        return Ok(vec![]);
    };
    let room = crate::cluster::room(ctx, &app_version)?;
    let p = &ctx.global.profile;
    let kctx = crate::cluster::kubectl(ctx).context;
    let found = room.summary();
    Ok(vec![if room.fits() {
        Check::ok("cluster room", found)
    } else {
        Check::problem(
            "cluster room",
            Level::Fail,
            found,
            Problem::ClusterRequestsDoNotFit,
            format!(
                "the scheduler would leave pods Pending. Free room (`kubectl --context {kctx} get pods -A` shows the other pods), lower resources.*.requests in the chart values, or recreate the profile bigger: `minikube delete -p {p} && cargo xtask up --memory 8192 --cpus 4`"
            ),
        )
    }])
}

fn check_ingress(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    if !st.running {
        return Ok(vec![]);
    }
    let p = &ctx.global.profile;
    let out = ctx.run_ok(&crate::cluster::minikube(ctx, p).addons_list())?;
    let enabled = tools::parse_addons(&out.stdout)?
        .get("ingress")
        .copied()
        .unwrap_or(false);
    Ok(vec![if enabled {
        Check::ok("ingress addon", "enabled")
    } else {
        Check::problem(
            "ingress addon",
            Level::Warn,
            "disabled",
            Problem::IngressAddonDisabled,
            format!("`minikube -p {p} addons enable ingress` (`cargo xtask up` does it)"),
        )
    }])
}

/// `--context`: the API answers, and an IngressClass serves the chart's Ingress.
fn check_context(ctx: &Ctx, _: &mut State) -> Result<Vec<Check>> {
    let name = crate::cluster::kube_context(ctx);
    let k = crate::cluster::kubectl(ctx);
    let out = ctx.run(&k.readyz())?;
    if !(out.success() && out.stdout.trim() == "ok") {
        let why = first_line(&out.stderr);
        return Ok(vec![Check::problem(
            "kube context",
            Level::Fail,
            format!("`{name}`: the API does not answer: {why}"),
            Problem::ContextUnreachable,
            format!("`kubectl --context {name} cluster-info`; `kubectl config get-contexts` lists the contexts of $KUBECONFIG"),
        )]);
    }
    let mut checks = vec![Check::ok(
        "kube context",
        format!("`{name}`: the API answers"),
    )];
    let classes = crate::cluster::ingress_classes(ctx);
    checks.push(if classes.iter().any(|c| c == "nginx") {
        Check::ok("ingress class", "nginx")
    } else {
        Check::problem(
            "ingress class",
            Level::Warn,
            if classes.is_empty() {
                "none in the cluster".to_string()
            } else {
                format!("no `nginx` (the cluster has: {})", classes.join(", "))
            },
            Problem::IngressClassMissing,
            match classes.first() {
                Some(c) => format!("deploy with `--set ingress.ingressClassName={c}`"),
                None => "install an ingress controller (ingress-nginx: https://kubernetes.github.io/ingress-nginx/deploy/), or use `kubectl port-forward svc/frontend-service 3000`".into(),
            },
        )
    });
    Ok(checks)
}

/// Where `todo.local` must point. Never edits the hosts file: prints the line to add.
fn check_hosts(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    if !st.running {
        return Ok(vec![]);
    }
    let driver = st
        .profile
        .as_ref()
        .and_then(|p| p.config.as_ref())
        .map(|c| c.driver.clone())
        .unwrap_or_default();
    let (hosts_path, want, note) = if os() != "linux" && driver == "docker" {
        let path = if os() == "windows" {
            r"C:\Windows\System32\drivers\etc\hosts"
        } else {
            "/etc/hosts"
        };
        (
            path,
            "127.0.0.1".to_string(),
            format!(
                "and keep `minikube -p {} tunnel` running",
                ctx.global.profile
            ),
        )
    } else {
        let ip = ctx.run_ok(&crate::cluster::minikube(ctx, &ctx.global.profile).ip())?;
        ("/etc/hosts", ip.stdout.trim().to_string(), String::new())
    };
    let hosts = std::fs::read_to_string(hosts_path).unwrap_or_default();
    Ok(vec![hosts_check(&hosts, hosts_path, &want, &note)])
}

/// The `todo.local` line as the resolver reads it: glibc's files backend (and macOS's and
/// Windows') stop at the first line naming the host, so a later line never takes effect.
fn hosts_check(hosts: &str, hosts_path: &str, want: &str, note: &str) -> Check {
    let name = "todo.local";
    let line = format!("{want} {name}");
    let smoke = "(`cargo xtask smoke` works without it: it sends Host: todo.local itself)";
    let entries = hosts_entries(hosts, name);
    let Some(first) = entries.first() else {
        let edit = if os() == "windows" {
            "as Administrator, add it to the hosts file".to_string()
        } else {
            format!("add it: `echo '{line}' | sudo tee -a /etc/hosts`")
        };
        return Check::problem(
            name,
            Level::Warn,
            format!("no entry in {hosts_path}"),
            Problem::HostsEntryMissing,
            format!("the line is `{line}`; {edit} {note}\n{smoke}"),
        );
    };
    let later_other: Vec<&HostsLine> = entries[1..].iter().filter(|e| e.ip != first.ip).collect();
    if first.ip != want {
        let right_later = entries[1..]
            .iter()
            .find(|e| e.ip == want)
            .map(|e| {
                format!(
                    " (line {} has the right address, but the first match wins)",
                    e.line
                )
            })
            .unwrap_or_default();
        return Check::problem(
            name,
            Level::Warn,
            format!(
                "resolves to {} (line {} of {hosts_path}, the first that names it){right_later}, expected {want}",
                first.ip, first.line
            ),
            Problem::HostsEntryMissing,
            format!(
                "edit line {} of {hosts_path} to read `{line}` (as {}); appending a line does not help, the first match wins {note}\n{smoke}",
                first.line,
                if os() == "windows" { "Administrator" } else { "root" }
            ),
        );
    }
    if !later_other.is_empty() {
        let others: Vec<String> = later_other
            .iter()
            .map(|e| format!("line {} ({})", e.line, e.ip))
            .collect();
        return Check::problem(
            name,
            Level::Warn,
            format!(
                "{want} (line {} of {hosts_path} takes effect); {} also name{} it with another address",
                first.line,
                others.join(", "),
                if others.len() == 1 { "s" } else { "" }
            ),
            Problem::HostsEntryConflict,
            format!(
                "remove {} from {hosts_path}: ignored while line {} comes first, but it takes over as soon as that line goes",
                others.join(", "),
                first.line
            ),
        );
    }
    Check::ok(
        name,
        format!("{} (line {} of {hosts_path})", first.ip, first.line),
    )
}

/// One line of a hosts file that names a host: its 1-based number and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostsLine {
    pub line: usize,
    pub ip: String,
}

/// Every line naming `name` (case-insensitively, comments stripped), top to bottom. The
/// first is the one that takes effect.
pub fn hosts_entries(hosts: &str, name: &str) -> Vec<HostsLine> {
    hosts
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.split('#').next().unwrap_or("");
            let mut f = l.split_whitespace();
            let ip = f.next()?;
            f.any(|h| h.eq_ignore_ascii_case(name)).then(|| HostsLine {
                line: i + 1,
                ip: ip.to_string(),
            })
        })
        .collect()
}

fn check_helpers(ctx: &Ctx, _: &mut State) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for (name, what) in [
        (
            "kubectl-ai",
            "`cargo xtask diagnose --ai` hands it the failure summary",
        ),
        ("kagent", "`diagnose --ai` mentions it when present"),
        (
            "docker-ai",
            "Docker's AI agent (Gordon) for image questions",
        ),
    ] {
        let found = tools::on_path(&ctx.env, name).or_else(|| docker_plugin(&ctx.env, name));
        checks.push(match found {
            Some(p) => Check {
                name: name.into(),
                level: Level::Info,
                found: format!("{} (optional)", p.display()),
                id: None,
                fix: None,
            },
            None => Check {
                name: name.into(),
                level: Level::Info,
                found: "not installed (optional)".into(),
                id: None,
                fix: Some(what.into()),
            },
        });
    }
    Ok(checks)
}

fn docker_plugin(env: &crate::ctx::Env, name: &str) -> Option<std::path::PathBuf> {
    let home = env.get("HOME")?;
    let p = std::path::Path::new(&home)
        .join(".docker/cli-plugins")
        .join(name);
    p.is_file().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_ids_and_codes_are_unique() {
        let all: Vec<&Entry> = entries().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(
                    a.exit_code, b.exit_code,
                    "{} and {} share exit code {}",
                    a.id, b.id, a.exit_code
                );
            }
        }
        assert_eq!(Problem::MinikubeMemoryLow.exit_code(), 23);
        // The variant is its id in CamelCase, so a reader can search for either.
        for p in Problem::ALL {
            let camel: String = p
                .id()
                .split('_')
                .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
                .collect();
            assert_eq!(format!("{p:?}"), camel);
        }
    }

    /// The address a hosts file gives `name`: the first line naming it.
    fn hosts_entry(hosts: &str, name: &str) -> Option<String> {
        hosts_entries(hosts, name).into_iter().next().map(|e| e.ip)
    }

    #[test]
    fn a_problem_points_at_its_guide_entry() {
        let c = Check::problem("x", Level::Fail, "f", Problem::ToolHelmMissing, "do this");
        assert_eq!(
            c.fix.as_deref(),
            Some("do this (see docs/troubleshooting.md#tool_helm_missing)")
        );
    }

    #[test]
    fn hosts_entry_reads_the_first_matching_line_as_glibc_does() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 todo.local\n192.168.49.2   todo.local other\n192.168.49.3 todo.local\n";
        assert_eq!(
            hosts_entry(hosts, "todo.local").as_deref(),
            Some("192.168.49.2")
        );
        assert_eq!(
            hosts_entries(hosts, "todo.local"),
            [
                HostsLine {
                    line: 3,
                    ip: "192.168.49.2".into()
                },
                HostsLine {
                    line: 4,
                    ip: "192.168.49.3".into()
                }
            ]
        );
        assert_eq!(hosts_entry("127.0.0.1 localhost\n", "todo.local"), None);
        assert_eq!(hosts_entry("1.2.3.4 todo.localhost\n", "todo.local"), None);
        // Host names compare without regard to case.
        assert_eq!(
            hosts_entry("1.2.3.4 TODO.local\n", "todo.local").as_deref(),
            Some("1.2.3.4")
        );
    }

    #[test]
    fn hosts_check_reports_the_line_that_takes_effect_and_flags_a_later_conflict() {
        let want = "192.168.49.2";
        // A correction appended below an old entry: the old one still wins.
        let stale = "127.0.0.1 localhost\n192.168.49.9 todo.local\n192.168.49.2 todo.local\n";
        let c = hosts_check(stale, "/etc/hosts", want, "");
        assert_eq!(
            (c.level, c.id),
            (Level::Warn, Some(Problem::HostsEntryMissing))
        );
        assert_eq!(c.found, "resolves to 192.168.49.9 (line 2 of /etc/hosts, the first that names it) (line 3 has the right address, but the first match wins), expected 192.168.49.2");
        assert!(c
            .fix
            .unwrap()
            .contains("edit line 2 of /etc/hosts to read `192.168.49.2 todo.local`"));
        // The right line first, a conflicting one later.
        let conflict = "192.168.49.2 todo.local\n10.0.0.7 todo.local\n";
        let c = hosts_check(conflict, "/etc/hosts", want, "");
        assert_eq!(
            (c.level, c.id),
            (Level::Warn, Some(Problem::HostsEntryConflict))
        );
        assert_eq!(
            c.found,
            "192.168.49.2 (line 1 of /etc/hosts takes effect); line 2 (10.0.0.7) also names it with another address"
        );
        // Right and alone (a repeat of the same address is harmless).
        let good = "127.0.0.1 localhost\n192.168.49.2 todo.local\n192.168.49.2 todo.local\n";
        let c = hosts_check(good, "/etc/hosts", want, "");
        assert_eq!(c.level, Level::Ok);
        assert_eq!(c.found, "192.168.49.2 (line 2 of /etc/hosts)");
        let c = hosts_check("", "/etc/hosts", want, "");
        assert_eq!(c.id, Some(Problem::HostsEntryMissing));
        assert_eq!(c.found, "no entry in /etc/hosts");
    }
}
