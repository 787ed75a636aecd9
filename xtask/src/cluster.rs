//! What the cluster tasks share: the release's kubectl and helm handles, polling settings,
//! confirmation prompts, and turning a pod [`Problem`] into the message a user acts on (with
//! the evidence: last log lines, probe events, requests vs. allocatable).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::ctx::Ctx;
use crate::kube::{self, Kind, Problem, Snapshot};
use crate::tools::{HelmRelease, KubectlIn};

/// kubectl on the profile's context (minikube names it after the profile) in `todo-app`.
pub fn kubectl(ctx: &Ctx) -> KubectlIn<'_> {
    KubectlIn {
        tool: &ctx.tools.kubectl,
        context: &ctx.global.profile,
        namespace: kube::NAMESPACE,
    }
}

pub fn release(ctx: &Ctx) -> HelmRelease<'_> {
    HelmRelease {
        tool: &ctx.tools.helm,
        context: &ctx.global.profile,
        namespace: kube::NAMESPACE,
        name: kube::RELEASE,
    }
}

/// The profile's IP (`minikube ip`), when minikube answers.
pub fn minikube_ip(ctx: &Ctx) -> Option<String> {
    let mk = crate::tools::Minikube {
        tool: &ctx.tools.minikube,
        profile: &ctx.global.profile,
    };
    ctx.run(&mk.ip())
        .ok()
        .filter(|o| o.success())
        .map(|o| o.stdout.trim().to_string())
}

/// Whether the profile runs (`minikube status`) and how it was created (`profile list`):
/// `None` for a profile that does not exist, or when minikube is not installed.
pub fn profile_state(ctx: &Ctx) -> (bool, Option<crate::tools::Profile>) {
    let (status, profile) = profile_view(ctx);
    (status.is_some_and(|s| s.running()), profile)
}

/// `minikube status` of every node (when it answers with JSON) and the profile's settings.
pub fn profile_view(
    ctx: &Ctx,
) -> (
    Option<crate::tools::ProfileStatus>,
    Option<crate::tools::Profile>,
) {
    if !ctx.tools.minikube.found() {
        return (None, None);
    }
    let name = ctx.global.profile.as_str();
    let mk = crate::tools::Minikube {
        tool: &ctx.tools.minikube,
        profile: name,
    };
    let status = ctx
        .run(&mk.status())
        .ok()
        .and_then(|o| crate::tools::parse_minikube_status(&o.stdout));
    let profile = ctx
        .run(&mk.profile_list())
        .ok()
        .and_then(|o| crate::tools::parse_profiles(&o.stdout).ok())
        .and_then(|ps| ps.into_iter().find(|p| p.name == name));
    (status, profile)
}

/// The release's requests against the cluster's free room (CPU in millicores, memory in
/// bytes).
#[derive(Clone, Debug)]
pub struct Room {
    pub release: (u64, u64),
    pub allocatable: (u64, u64),
    pub others: (u64, u64),
}

impl Room {
    pub fn free(&self) -> (u64, u64) {
        (
            self.allocatable.0.saturating_sub(self.others.0),
            self.allocatable.1.saturating_sub(self.others.1),
        )
    }

    pub fn fits(&self) -> bool {
        let free = self.free();
        self.release.0 <= free.0 && self.release.1 <= free.1
    }

    pub fn summary(&self) -> String {
        let free = self.free();
        format!(
            "the release asks cpu {}m, memory {}; free: cpu {}m, memory {} (allocatable cpu {}m, memory {}, minus other pods' requests cpu {}m, memory {})",
            self.release.0,
            kube::mib(self.release.1),
            free.0,
            kube::mib(free.1),
            self.allocatable.0,
            kube::mib(self.allocatable.1),
            self.others.0,
            kube::mib(self.others.1)
        )
    }
}

/// Renders the chart as `deploy` installs it (its values-dev.yaml when present) and reads
/// the nodes and every pod from the API.
pub fn room(ctx: &Ctx, app_version: &str) -> Result<Room> {
    let mut flags = crate::render::fixed_values(app_version);
    let dev = ctx.root.join(kube::CHART).join("values-dev.yaml");
    if dev.is_file() {
        flags.push("-f".into());
        flags.push(dev.display().to_string());
    }
    let docs = crate::render::template(ctx, &flags)?;
    let (cpu, mem_mib) = crate::lint::release_requests(&docs)?;
    let k = kubectl(ctx);
    let nodes = kube::parse_nodes(&ctx.run_ok(&k.nodes_json())?.stdout)?;
    let pods = kube::parse_pods(&ctx.run_ok(&k.all_pods_json())?.stdout)?;
    Ok(Room {
        release: (cpu, (mem_mib * 1024.0 * 1024.0).round() as u64),
        allocatable: kube::allocatable(&nodes),
        others: kube::other_pods_requests(&pods),
    })
}

/// How often watches poll: `XTASK_POLL_MS` (tests make it fast), else one second, the
/// resolution of the timestamps SC-002 reads anyway.
pub fn poll_interval() -> Duration {
    std::env::var("XTASK_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(1))
}

/// The release's workloads and pods as they are now.
pub fn snapshot(ctx: &Ctx) -> Result<Snapshot> {
    let out = ctx.run_ok(&kubectl(ctx).get_workloads_and_pods(kube::SELECTOR))?;
    Snapshot::parse(&out.stdout)
}

pub fn pods(ctx: &Ctx) -> Result<Vec<kube::Pod>> {
    let out = ctx.run_ok(&kubectl(ctx).get_pods_json(kube::SELECTOR))?;
    kube::parse_pods(&out.stdout)
}

/// Asks before a destructive or expensive step. `--yes` answers for the user; without a
/// terminal (CI, a pipe) there is nobody to ask, so `--yes` is required.
pub fn confirm(ctx: &Ctx, question: &str, yes: bool) -> Result<()> {
    if yes || ctx.global.dry_run {
        return Ok(());
    }
    if ctx.ci || !std::io::stdin().is_terminal() {
        bail!("{question}\nnobody can answer here (no terminal or CI): pass --yes to go ahead");
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("cancelled")
    }
}

/// The user-facing explanation of one problem, with its evidence fetched from the cluster.
pub fn explain(ctx: &Ctx, p: &Problem) -> String {
    let k = kubectl(ctx);
    let tail = |container: &str, previous: bool, n: u32| -> String {
        match ctx.run(&k.logs(&p.pod, container, n, previous)) {
            Ok(o) if o.success() && !o.stdout.trim().is_empty() => indent(o.stdout.trim_end()),
            Ok(o) if o.success() => "    (no log lines)".into(),
            Ok(o) => indent(o.tail(3).trim_end()),
            Err(e) => format!("    (could not read the logs: {e:#})"),
        }
    };
    let exit = p
        .exit_code
        .map(|c| format!(", exit code {c}"))
        .unwrap_or_default();
    match p.kind {
        Kind::Crash => format!(
            "pod {} container {} is crashing ({}{exit}, {} restarts); its last log lines:\n{}",
            p.pod,
            p.container,
            p.reason,
            p.restarts,
            tail(&p.container, p.previous, 20)
        ),
        Kind::InitFailed => format!(
            "init container {} of pod {} failed ({}{exit}): the migration's log:\n{}\n  fix: check DATABASE_URL and that the database answers (`cargo xtask logs postgres`)",
            p.container,
            p.pod,
            p.reason,
            tail(&p.container, p.previous, 30)
        ),
        Kind::ImageMissing => {
            let repo = p.image.split(':').next().unwrap_or(&p.image);
            let service = crate::services::SERVICES
                .iter()
                .find(|s| s.repository == repo)
                .map(|s| s.name)
                .unwrap_or(p.component.as_str());
            format!(
                "image {} is not in the cluster's daemon ({}); pod {} cannot start.\n  fix: `cargo xtask build --target minikube {service}` (or `minikube -p {} image load {}`)",
                p.image, p.reason, p.pod, ctx.global.profile, p.image
            )
        }
        Kind::OomKilled => {
            let limit = ctx_limit(p);
            format!(
                "pod {} container {} was killed for running out of memory (OOMKilled{exit}); its memory limit is {limit}.\n  fix: raise resources.{}.limits.memory in the chart values",
                p.pod, p.container, p.component
            )
        }
        Kind::Unschedulable if p.message.contains("Insufficient") => format!(
            "pod {} cannot be scheduled: {}\n{}\n  fix: lower resources.{}.requests, or give minikube more: `minikube delete -p {} && cargo xtask up --cpus 4 --memory 8192`",
            p.pod,
            p.message,
            requests_vs_allocatable(ctx, p),
            p.component,
            ctx.global.profile
        ),
        // Not a matter of room: volumes, taints, affinity. The scheduler's message says which.
        Kind::Unschedulable => format!(
            "pod {} cannot be scheduled: {}\n  look at: `kubectl --context {} -n {} get pvc,events`",
            p.pod,
            p.message,
            ctx.global.profile,
            kube::NAMESPACE
        ),
        Kind::NotReady => format!(
            "pod {} container {} runs but is not Ready; its probe events:\n{}",
            p.pod,
            p.container,
            probe_events(ctx, &p.pod)
        ),
    }
}

fn ctx_limit(p: &Problem) -> String {
    p.limit.clone().unwrap_or_else(|| "not set".into())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {}", crate::process::redact(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The events that explain a failing probe (reason `Unhealthy`), newest last.
pub fn probe_events(ctx: &Ctx, pod: &str) -> String {
    let events = ctx
        .run(&kubectl(ctx).events_json())
        .ok()
        .filter(|o| o.success())
        .and_then(|o| kube::parse_events(&o.stdout).ok())
        .unwrap_or_default();
    let lines: Vec<String> = events
        .iter()
        .filter(|e| e.involved_object.name == pod && e.reason == "Unhealthy")
        .map(|e| {
            let count = e.count.map(|c| format!(" (x{c})")).unwrap_or_default();
            format!("    {}{count}", e.message.trim())
        })
        .collect();
    if lines.is_empty() {
        "    (no probe events yet)".into()
    } else {
        lines.join("\n")
    }
}

/// "asks cpu 100m, memory 192Mi; node minikube allocatable cpu 2000m, memory 3828Mi".
fn requests_vs_allocatable(ctx: &Ctx, p: &Problem) -> String {
    let asks = format!(
        "  the pod asks: cpu {}m, memory {}",
        p.requests.0,
        kube::mib(p.requests.1)
    );
    let nodes = ctx
        .run(&kubectl(ctx).nodes_json())
        .ok()
        .filter(|o| o.success())
        .and_then(|o| kube::parse_nodes(&o.stdout).ok())
        .unwrap_or_default();
    let have: Vec<String> = nodes
        .iter()
        .map(|n| {
            let cpu = n
                .status
                .allocatable
                .get("cpu")
                .and_then(|c| kube::cpu_millis(c))
                .unwrap_or(0);
            let mem = n
                .status
                .allocatable
                .get("memory")
                .and_then(|m| kube::mem_bytes(m))
                .unwrap_or(0);
            format!(
                "  node {} allocatable: cpu {cpu}m, memory {} (shared with every other pod on it)",
                n.metadata.name,
                kube::mib(mem)
            )
        })
        .collect();
    if have.is_empty() {
        asks
    } else {
        format!("{asks}\n{}", have.join("\n"))
    }
}
