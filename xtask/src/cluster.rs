//! What the cluster tasks share: the release's kubectl and helm handles, polling settings,
//! confirmation prompts, and turning a pod [`Problem`] into the message a user acts on (with
//! the evidence: last log lines, probe events, requests vs. allocatable).

use std::time::Duration;

use anyhow::{bail, Result};

use crate::ctx::Ctx;
use crate::kube::{self, Kind, Problem, Snapshot};
use crate::tools::{HelmRelease, KubectlIn};

/// The kube context every kubectl and helm call names: `--context`, else the minikube
/// profile's (minikube names the context after the profile). Never the current context, so
/// a different one can never receive the release.
pub fn kube_context(ctx: &Ctx) -> &str {
    ctx.global
        .context
        .as_deref()
        .unwrap_or(ctx.global.profile.as_str())
}

/// Whether the target is a minikube profile (no `--context`): only then do `up`, `minikube
/// ip` and minikube's daemon apply.
pub fn on_minikube(ctx: &Ctx) -> bool {
    ctx.global.context.is_none()
}

/// kubectl on the target's context in `todo-app`.
/// minikube for one profile (usually `ctx.global.profile`).
pub fn minikube<'a>(ctx: &'a Ctx, profile: &'a str) -> crate::tools::Minikube<'a> {
    crate::tools::Minikube {
        tool: &ctx.tools.minikube,
        profile,
    }
}

pub fn kubectl(ctx: &Ctx) -> KubectlIn<'_> {
    KubectlIn {
        tool: &ctx.tools.kubectl,
        context: kube_context(ctx),
        namespace: kube::NAMESPACE,
    }
}

pub fn release(ctx: &Ctx) -> HelmRelease<'_> {
    HelmRelease {
        tool: &ctx.tools.helm,
        context: kube_context(ctx),
        namespace: kube::NAMESPACE,
        name: kube::RELEASE,
    }
}

/// The profile's IP (`minikube ip`), when minikube answers (never for `--context`).
pub fn minikube_ip(ctx: &Ctx) -> Option<String> {
    if !on_minikube(ctx) {
        return None;
    }
    let mk = minikube(ctx, &ctx.global.profile);
    ctx.run(&mk.ip())
        .ok()
        .filter(|o| o.success())
        .map(|o| o.stdout.trim().to_string())
}

/// The address the ingress controller published in the release's Ingress status (an IP,
/// else a host name), when it has published one.
pub fn ingress_status_address(ctx: &Ctx) -> Option<String> {
    let out = ctx.run(&kubectl(ctx).ingresses_json()).ok()?;
    if !out.success() {
        return None;
    }
    parse_ingress_address(&out.stdout)
}

pub fn parse_ingress_address(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v["items"].as_array()?.iter().find_map(|ing| {
        ing["status"]["loadBalancer"]["ingress"]
            .as_array()?
            .iter()
            .find_map(|a| {
                a["ip"]
                    .as_str()
                    .or_else(|| a["hostname"].as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
    })
}

/// The names of the cluster's IngressClasses (empty when none, or when they can't be read).
pub fn ingress_classes(ctx: &Ctx) -> Vec<String> {
    let Ok(out) = ctx.run(&kubectl(ctx).ingress_classes_json()) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    v["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the profile runs (`minikube status`) and how it was created (`profile list`):
/// `None` for a profile that does not exist, or when minikube is not installed.
pub fn profile_state(ctx: &Ctx) -> (bool, Option<crate::tools::Profile>) {
    let (status, profile) = profile_view(ctx);
    (status.is_some_and(|s| s.running()), profile)
}

/// `minikube status` of every node (when it answers with JSON) and the profile's settings.
pub type ProfileView = (
    Option<crate::tools::ProfileStatus>,
    Option<crate::tools::Profile>,
);

/// The profile's [`ProfileView`], asked of minikube once per task: `doctor` records what it
/// read (`remember_profile_view`), `up` forgets it once it starts the profile.
pub fn profile_view(ctx: &Ctx) -> ProfileView {
    if !ctx.tools.minikube.found() || !on_minikube(ctx) {
        return (None, None);
    }
    if let Some(seen) = seen(ctx).clone() {
        return seen;
    }
    let name = ctx.global.profile.as_str();
    let mk = minikube(ctx, name);
    let status = ctx
        .run(&mk.status())
        .ok()
        .and_then(|o| crate::tools::parse_minikube_status(&o.stdout));
    let profile = ctx
        .run(&mk.profile_list())
        .ok()
        .and_then(|o| crate::tools::parse_profiles(&o.stdout).ok())
        .and_then(|ps| ps.into_iter().find(|p| p.name == name));
    remember_profile_view(ctx, (status, profile))
}

pub fn remember_profile_view(ctx: &Ctx, view: ProfileView) -> ProfileView {
    *seen(ctx) = Some(view.clone());
    view
}

/// After `minikube start` (or `update-context`), what was read before is stale.
pub fn forget_profile_view(ctx: &Ctx) {
    *seen(ctx) = None;
}

fn seen(ctx: &Ctx) -> std::sync::MutexGuard<'_, Option<ProfileView>> {
    ctx.profile_seen.lock().unwrap_or_else(|e| e.into_inner())
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
pub fn poll_interval(ctx: &Ctx) -> Duration {
    ctx.env
        .get("XTASK_POLL_MS")
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
    if ctx.ci || !ctx.console.stdin_is_terminal() {
        bail!("{question}\nnobody can answer here (no terminal or CI): pass --yes to go ahead");
    }
    ctx.console.err(&format!("{question} [y/N] "));
    let answer = ctx.console.read_line()?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("cancelled")
    }
}

/// The user-facing explanation of one problem, with its evidence fetched from the cluster,
/// ending with where the troubleshooting guide explains it.
pub fn explain(ctx: &Ctx, p: &Problem) -> String {
    format!(
        "{}\n  {}",
        explain_problem(ctx, p),
        crate::guide::see(p.kind.entry().id)
    )
}

fn explain_problem(ctx: &Ctx, p: &Problem) -> String {
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
    let profile = &ctx.global.profile;
    let kctx = k.context;
    let ns = kube::NAMESPACE;
    let kubelet = if p.message.trim().is_empty() {
        String::new()
    } else {
        format!("\n  kubelet: {}", crate::process::redact(p.message.trim()))
    };
    match p.kind {
        Kind::Crash => {
            // A container that never ran (StartError, exit 128) has no logs: the runtime's
            // message is the evidence.
            let said = if p.message.trim().is_empty() {
                String::new()
            } else {
                format!("\n  the runtime said: {}", crate::process::redact(p.message.trim()))
            };
            format!(
                "pod {} container {} is crashing ({}{exit}, {} restarts); its last log lines:\n{}{said}",
                p.pod,
                p.container,
                p.reason,
                p.restarts,
                tail(&p.container, p.previous, 20)
            )
        }
        Kind::InitFailed => format!(
            "init container {} of pod {} failed ({}{exit}): the migration's log:\n{}\n  fix: check DATABASE_URL and that the database answers (`cargo xtask logs postgres`)",
            p.container,
            p.pod,
            p.reason,
            tail(&p.container, p.previous, 30)
        ),
        Kind::ImageMissing => {
            let ours = our_service(&p.image);
            match (p.reason.as_str(), ours) {
                ("ErrImageNeverPull", Some(s)) => format!(
                    "image {} is not in the cluster's daemon ({}); pod {} cannot start.{kubelet}\n  fix: `cargo xtask build --target minikube {}` (or `minikube -p {profile} image load {}`)",
                    p.image, p.reason, p.pod, s.name, p.image
                ),
                (_, Some(s)) => format!(
                    "image {} is in neither the node's image store nor the registry the kubelet pulls it from ({}); pod {} cannot start.{kubelet}\n  fix: build it into the cluster, `cargo xtask build --target minikube {}`, or push it to that registry (`docker push {}`)",
                    p.image, p.reason, p.pod, s.name, p.image
                ),
                ("ErrImageNeverPull", None) => format!(
                    "image {} is not on the node and its pull policy is Never ({}); pod {} cannot start.{kubelet}\n  fix: `minikube -p {profile} image load {}`, or let the kubelet pull it (pullPolicy IfNotPresent)",
                    p.image, p.reason, p.pod, p.image
                ),
                (_, None) => format!(
                    "image {} does not exist in its registry, or the registry refuses it ({}); pod {} cannot start.{kubelet}\n  fix: check the image's name and tag in the chart values ({}; a private registry also needs imagePullSecrets); `docker pull {}` here shows what the registry says",
                    p.image,
                    p.reason,
                    p.pod,
                    if p.component == "postgres" {
                        "postgresql.image"
                    } else {
                        "images.*"
                    },
                    p.image
                ),
            }
        }
        Kind::ImagePull => format!(
            "the kubelet cannot pull image {} for pod {} ({}) and keeps retrying: a registry error, a rate limit or a timeout.{kubelet}\n  fix: a rate limit (429 Too Many Requests) or a slow registry passes with time: `cargo xtask deploy` again later; or pull it here and load it into the cluster: `docker pull {} && minikube -p {profile} image load {}`",
            p.image, p.pod, p.reason, p.image, p.image
        ),
        Kind::ConfigError => format!(
            "pod {} container {} cannot be created: the kubelet could not assemble its configuration (CreateContainerConfigError).{kubelet}\n  fix: the container refers to a Secret or ConfigMap, or a key in one, that does not exist: `kubectl --context {kctx} -n {ns} get secrets,configmaps`. The chart creates its Secret from the secrets.* values `cargo xtask deploy` passes; a secrets.existingSecret must hold every key (DATABASE_URL, BETTER_AUTH_SECRET, MCP_SERVICE_TOKEN, POSTGRES_PASSWORD)",
            p.pod, p.container
        ),
        Kind::CreateError => format!(
            "pod {} container {} cannot be created: the container runtime refused it (CreateContainerError).{kubelet}\n  fix: read the runtime's message above; `kubectl --context {kctx} -n {ns} describe pod {}` has the events, `minikube -p {profile} logs` the runtime's side",
            p.pod, p.container, p.pod
        ),
        Kind::RunError => format!(
            "pod {} container {} was created but cannot start (RunContainerError).{kubelet}\n  fix: an entrypoint or command missing from the image, or a securityContext the image cannot run under: try the image with `docker run --rm {}`",
            p.pod, p.container, p.image
        ),
        Kind::MountFailed => format!(
            "pod {} is stuck in ContainerCreating: a volume cannot be mounted ({}).\n  event: {}\n  fix: `kubectl --context {kctx} -n {ns} get pvc,secrets,configmaps` shows what is missing or unbound; `kubectl --context {kctx} -n {ns} describe pod {}` has every event",
            p.pod,
            p.reason,
            crate::process::redact(&p.message),
            p.pod
        ),
        Kind::InitOverrun => format!(
            "init container {} of pod {} is still running: {}. It waits for the database, which never answered; its last log lines:\n{}\n  fix: `cargo xtask logs postgres` and `kubectl --context {kctx} -n {ns} get pods -l component=postgres`; with an external database check secrets.databaseUrl",
            p.container,
            p.pod,
            p.message,
            tail(&p.container, false, 20)
        ),
        Kind::Starting => {
            let logs = if p.container.is_empty() {
                String::new()
            } else {
                format!(
                    "\n  init container {}'s last log lines:\n{}",
                    p.container,
                    tail(&p.container, false, 10)
                )
            };
            format!("pod {} is not Ready: {}{logs}", p.pod, p.message)
        }
        Kind::OomKilled => {
            let limit = ctx_limit(p);
            format!(
                "pod {} container {} was killed for running out of memory (OOMKilled{exit}); its memory limit is {limit}.\n  fix: raise resources.{}.limits.memory in the chart values",
                p.pod, p.container, p.component
            )
        }
        Kind::Unschedulable if p.message.contains("Insufficient") => format!(
            "pod {} cannot be scheduled: {}\n{}\n  fix: lower resources.{}.requests, or {}",
            p.pod,
            p.message,
            requests_vs_allocatable(ctx, p),
            p.component,
            if on_minikube(ctx) {
                format!(
                    "give minikube more: `minikube delete -p {} && cargo xtask up --cpus 4 --memory 8192`",
                    ctx.global.profile
                )
            } else {
                format!("add room to the nodes of context `{}`", kube_context(ctx))
            }
        ),
        // Not a matter of room: volumes, taints, affinity. The scheduler's message says which.
        Kind::Unschedulable => format!(
            "pod {} cannot be scheduled: {}\n  look at: `kubectl --context {kctx} -n {ns} get pvc,events`",
            p.pod, p.message
        ),
        Kind::NotReady => format!(
            "pod {} container {} runs but is not Ready; its probe events:\n{}",
            p.pod,
            p.container,
            probe_events(ctx, &p.pod)
        ),
    }
}

/// The service whose image this is, whatever registry prefix or tag it carries
/// (`localhost:5000/todo-backend:abc` is backend's).
pub fn our_service(image: &str) -> Option<&'static crate::services::Service> {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => name,
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    crate::services::SERVICES
        .iter()
        .find(|s| s.repository == last)
}

/// The namespace's events, or none when kubectl does not answer.
pub fn events(ctx: &Ctx) -> Vec<kube::Event> {
    ctx.run(&kubectl(ctx).events_json())
        .ok()
        .filter(|o| o.success())
        .and_then(|o| kube::parse_events(&o.stdout).ok())
        .unwrap_or_default()
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
    let events = events(ctx);
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_ingress_address_is_read_from_its_status() {
        let with = r#"{"items":[{"status":{"loadBalancer":{}}},{"status":{"loadBalancer":{"ingress":[{"hostname":"lb.example"},{"ip":"127.0.0.1"}]}}}]}"#;
        assert_eq!(
            super::parse_ingress_address(with).as_deref(),
            Some("lb.example")
        );
        let none = r#"{"items":[{"status":{"loadBalancer":{}}}]}"#;
        assert_eq!(super::parse_ingress_address(none), None);
        assert_eq!(super::parse_ingress_address("not json"), None);
    }
}
