//! `cargo xtask doctor`: every prerequisite, one line each (✓ / ! / ✗), with the found
//! version and, for anything not ✓, the exact fix. Failures carry stable ids and exit codes,
//! as minikube's do, so scripts and CI can branch on them.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::Result;
use serde::Serialize;

use crate::ctx::Ctx;
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

/// Stable problem ids and their exit codes. Ranges follow minikube's: 1x the profile's
/// settings, 2x resources, 4x client tools, 5x the driver, 7x the cluster, 8x the container
/// provider (Docker), 9x the checks.
pub const PROBLEMS: &[(&str, u8)] = &[
    ("MINIKUBE_PROFILE_MISMATCH", 11),
    ("CLUSTER_REQUESTS_DO_NOT_FIT", 20),
    ("DOCKER_MEMORY_LOW", 22),
    ("MINIKUBE_MEMORY_LOW", 23),
    ("MINIKUBE_CPUS_LOW", 29),
    ("TOOL_MINIKUBE_MISSING", 41),
    ("TOOL_MINIKUBE_TOO_OLD", 42),
    ("TOOL_KUBECTL_MISSING", 43),
    ("TOOL_KUBECTL_TOO_OLD", 44),
    ("TOOL_HELM_MISSING", 45),
    ("TOOL_HELM_TOO_OLD", 46),
    ("KUBECTL_VERSION_SKEW", 47),
    ("MINIKUBE_DRIVER_AS_ROOT", 57),
    ("MINIKUBE_NOT_RUNNING", 70),
    ("MINIKUBE_RUNTIME_NOT_DOCKER", 71),
    ("INGRESS_ADDON_DISABLED", 72),
    ("HOSTS_ENTRY_MISSING", 73),
    ("MINIKUBE_KUBECONFIG_STALE", 74),
    ("HOSTS_ENTRY_CONFLICT", 76),
    ("TOOL_DOCKER_MISSING", 82),
    ("DOCKER_DAEMON_DOWN", 89),
    ("CHECK_ERROR", 98),
    ("CHECK_CRASHED", 99),
];

pub fn exit_code(id: &str) -> u8 {
    PROBLEMS
        .iter()
        .find(|(p, _)| *p == id)
        .map(|(_, c)| *c)
        .unwrap_or(1)
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
    pub id: Option<&'static str>,
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
        id: &'static str,
        fix: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            level,
            found: found.into(),
            id: Some(id),
            fix: Some(fix.into()),
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
            println!("{}", serde_json::to_string_pretty(&checks)?);
        } else {
            print_checks(&checks);
        }
        match first_failure(&checks) {
            Some(id) => Err(Exit(exit_code(id)).into()),
            None => Ok(()),
        }
    }
}

pub fn first_failure(checks: &[Check]) -> Option<&'static str> {
    checks
        .iter()
        .find(|c| c.level == Level::Fail)
        .and_then(|c| c.id)
}

pub fn print_checks(checks: &[Check]) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let id =
            c.id.filter(|_| c.level != Level::Ok)
                .map(|i| format!("  [{i}]"))
                .unwrap_or_default();
        println!("{} {:width$}  {}{id}", c.mark(), c.name, c.found);
        if let Some(fix) = &c.fix {
            for line in fix.lines() {
                println!("    {line}");
            }
        }
    }
}

/// Runs each check on its own: a check that errors or panics becomes its own ✗ line and the
/// others still run.
pub fn run_checks(ctx: &Ctx, required_only: bool) -> Vec<Check> {
    let mut state = State::default();
    let mut checks = Vec::new();
    let mut steps: Vec<(&str, CheckFn)> = vec![
        ("docker", check_docker),
        ("minikube", check_minikube),
        ("kubectl", check_kubectl),
        ("helm", check_helm),
    ];
    if !required_only {
        steps.extend([
            ("minikube profile", check_profile as CheckFn),
            ("cluster room", check_room),
            ("ingress addon", check_ingress),
            ("todo.local", check_hosts),
            ("optional helpers", check_helpers),
        ]);
    }
    for (name, f) in steps {
        match catch_unwind(AssertUnwindSafe(|| f(ctx, &mut state))) {
            Ok(Ok(mut found)) => checks.append(&mut found),
            Ok(Err(e)) => checks.push(Check::problem(
                name,
                Level::Fail,
                format!("the check failed: {}", crate::process::redact(&format!("{e:#}"))),
                "CHECK_ERROR",
                "run again with -v to see the commands; `cargo xtask diagnose` collects details",
            )),
            Err(_) => checks.push(Check::problem(
                name,
                Level::Fail,
                "the check crashed",
                "CHECK_CRASHED",
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

fn missing(tool: &Tool, id: &'static str) -> Check {
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
        return Ok(vec![missing(tool, "TOOL_DOCKER_MISSING")]);
    }
    let out = ctx.run(&Docker { tool, env: &[] }.version())?;
    let parsed = tools::parse_docker_version(&out.stdout);
    let daemon = match std::env::var("DOCKER_HOST") {
        Ok(h) if std::env::var("MINIKUBE_ACTIVE_DOCKERD").is_ok() => {
            format!("minikube's daemon ({h})")
        }
        Ok(h) if !h.is_empty() => format!("daemon at {h}"),
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

fn daemon_down(daemon: &str, out: &Outcome) -> Check {
    let fix = match os() {
        "linux" => "start it: `sudo systemctl start docker` (or `sudo service docker start`)",
        _ => "start Docker Desktop and wait until it says it is running",
    };
    let why = out
        .stderr
        .lines()
        .next()
        .unwrap_or("no answer")
        .trim()
        .to_string();
    Check::problem(
        "docker",
        Level::Fail,
        format!("the {daemon} does not answer: {why}"),
        "DOCKER_DAEMON_DOWN",
        fix,
    )
}

fn check_minikube(ctx: &Ctx, st: &mut State) -> Result<Vec<Check>> {
    let tool = &ctx.tools.minikube;
    if !tool.found() {
        return Ok(vec![missing(tool, "TOOL_MINIKUBE_MISSING")]);
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
            "TOOL_MINIKUBE_TOO_OLD",
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
        return Ok(vec![missing(tool, "TOOL_KUBECTL_MISSING")]);
    }
    let k = Kubectl { tool };
    let out = ctx.run_ok(&k.version_client())?;
    let (client, _) = tools::parse_kubectl_version(&out.stdout)?;
    if client < MIN_KUBECTL {
        return Ok(vec![Check::problem(
            "kubectl",
            Level::Fail,
            version_line(client, tool),
            "TOOL_KUBECTL_TOO_OLD",
            format!(
                "kubectl ≥ {MIN_KUBECTL} is needed: {}",
                install_hint("kubectl")
            ),
        )]);
    }
    // The server part only answers with a cluster; its absence is the profile check's news.
    let server = ctx
        .run(&k.version())
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
                "KUBECTL_VERSION_SKEW",
                format!("use a kubectl within one minor version of {s} (`minikube kubectl --` always matches)"),
            ));
        }
    }
    Ok(checks)
}

fn check_helm(ctx: &Ctx, _: &mut State) -> Result<Vec<Check>> {
    let tool = &ctx.tools.helm;
    if !tool.found() {
        return Ok(vec![missing(tool, "TOOL_HELM_MISSING")]);
    }
    let out = ctx.run_ok(&Helm { tool }.version())?;
    let v = Version::parse(&out.stdout)
        .ok_or_else(|| anyhow::anyhow!("unreadable `helm version`: {:?}", out.stdout))?;
    if v < MIN_HELM {
        return Ok(vec![Check::problem(
            "helm",
            Level::Fail,
            version_line(v, tool),
            "TOOL_HELM_TOO_OLD",
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
    let mk = Minikube {
        tool: &ctx.tools.minikube,
        profile: name,
    };
    let list = ctx.run(&mk.profile_list())?;
    let profile = tools::parse_profiles(&list.stdout)
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.name == name);
    let Some(profile) = profile else {
        return Ok(vec![Check::problem(
            "minikube profile",
            Level::Warn,
            format!("profile `{name}` does not exist yet"),
            "MINIKUBE_NOT_RUNNING",
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
            "MINIKUBE_NOT_RUNNING",
            format!("`cargo xtask up` (or `minikube start -p {name}`)"),
        )
    });
    if parsed.as_ref().is_some_and(|s| s.kubeconfig_stale()) {
        checks.push(Check::problem(
            "kube context",
            Level::Warn,
            format!("`{name}` is Misconfigured: it points at an old address of the cluster"),
            "MINIKUBE_KUBECONFIG_STALE",
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
        let small = |what: &str, id: &'static str| {
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
            checks.push(small("memory", "MINIKUBE_MEMORY_LOW"));
        } else {
            checks.push(Check::ok("minikube memory", memory.clone()));
        }
        if c.cpus != 0 && c.cpus < MIN_CPUS && !st.running {
            checks.push(small("cpus", "MINIKUBE_CPUS_LOW"));
        } else {
            checks.push(Check::ok("minikube cpus", c.cpus.to_string()));
        }
        if !runtime.is_empty() && runtime != "docker" {
            checks.push(Check::problem(
                "container runtime",
                Level::Warn,
                runtime.clone(),
                "MINIKUBE_RUNTIME_NOT_DOCKER",
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
            "CLUSTER_REQUESTS_DO_NOT_FIT",
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
    let out = ctx.run_ok(
        &Minikube {
            tool: &ctx.tools.minikube,
            profile: p,
        }
        .addons_list(),
    )?;
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
            "INGRESS_ADDON_DISABLED",
            format!("`minikube -p {p} addons enable ingress` (`cargo xtask up` does it)"),
        )
    }])
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
        let ip = ctx.run_ok(
            &Minikube {
                tool: &ctx.tools.minikube,
                profile: &ctx.global.profile,
            }
            .ip(),
        )?;
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
            "HOSTS_ENTRY_MISSING",
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
            "HOSTS_ENTRY_MISSING",
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
            "HOSTS_ENTRY_CONFLICT",
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

fn check_helpers(_ctx: &Ctx, _: &mut State) -> Result<Vec<Check>> {
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
        let found = which::which(name).ok().or_else(|| docker_plugin(name));
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

fn docker_plugin(name: &str) -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
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
        for (i, (a, ca)) in PROBLEMS.iter().enumerate() {
            for (b, cb) in &PROBLEMS[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(ca, cb, "{a} and {b} share exit code {ca}");
            }
        }
        assert_eq!(exit_code("MINIKUBE_MEMORY_LOW"), 23);
    }

    /// The address a hosts file gives `name`: the first line naming it.
    fn hosts_entry(hosts: &str, name: &str) -> Option<String> {
        hosts_entries(hosts, name).into_iter().next().map(|e| e.ip)
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
        assert_eq!((c.level, c.id), (Level::Warn, Some("HOSTS_ENTRY_MISSING")));
        assert_eq!(c.found, "resolves to 192.168.49.9 (line 2 of /etc/hosts, the first that names it) (line 3 has the right address, but the first match wins), expected 192.168.49.2");
        assert!(c
            .fix
            .unwrap()
            .contains("edit line 2 of /etc/hosts to read `192.168.49.2 todo.local`"));
        // The right line first, a conflicting one later.
        let conflict = "192.168.49.2 todo.local\n10.0.0.7 todo.local\n";
        let c = hosts_check(conflict, "/etc/hosts", want, "");
        assert_eq!((c.level, c.id), (Level::Warn, Some("HOSTS_ENTRY_CONFLICT")));
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
        assert_eq!(c.id, Some("HOSTS_ENTRY_MISSING"));
        assert_eq!(c.found, "no entry in /etc/hosts");
    }
}
