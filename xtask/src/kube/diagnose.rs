//! Naming what is wrong with a pod the way Skaffold does, each kind with its row of the
//! troubleshooting guide and its exit code.

use crate::guide::Entry;

use super::*;

// ---------------------------------------------------------------------------------------
// Diagnosis

/// Declares [`Kind`] and its row of the troubleshooting table in one place, so a new kind is
/// one line: `Variant => ("DEPLOY_ID", exit code, "title", "symptom", "cause", "fix"),` with
/// its doc comment above (then `pod_problems` learns to find it, `cluster::explain` to word it,
/// and `cargo xtask render` regenerates the guide). Deploy's exit codes are 50–69; the ids and
/// codes must be unique with the doctor's (a test checks).
macro_rules! problem_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident => ($id:literal, $code:literal, $title:literal, $symptom:literal, $cause:literal, $fix:literal $(,)?)),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl Kind {
            /// Every kind, in the table's order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];

            /// The kind's entry in the troubleshooting guide.
            pub fn entry(self) -> &'static Entry {
                match self {
                    $(Kind::$kind => &Entry {
                        id: $id,
                        exit_code: $code,
                        warning: false,
                        title: $title,
                        symptom: $symptom,
                        cause: $cause,
                        fix: $fix,
                    },)*
                }
            }
        }
    };
}

problem_kinds! {
    /// CrashLoopBackOff, or a container that exited with an error.
    Crash => ("DEPLOY_CRASH_LOOP", 51, "a container keeps crashing", "`✗ deploy failed` naming `pod … container … is crashing (CrashLoopBackOff, exit code N, R restarts)` and the crashed instance's last log lines.", "The process exits at start: usually a missing or wrong setting (a secret, DATABASE_URL, AUTH_JWKS_URL), a database it cannot reach, or a bug; after --max-restarts restarts the deploy stops waiting.", "Read the log lines shown (also in the diagnose bundle: `logs-<pod>-<container>-previous.txt`); `cargo xtask logs <component>`; check the values the pod gets with `kubectl -n todo-app get secret,configmap`. Fix the cause, then `cargo xtask deploy` again."),
    /// The image is not where the kubelet looks and waiting will not bring it:
    /// ErrImageNeverPull, InvalidImageName, or a pull the registry answered "not found".
    ImageMissing => ("DEPLOY_IMAGE_MISSING", 52, "an image is not where the cluster looks", "`✗ deploy failed` naming `image todo-<service>:<tag> is not in the cluster's daemon (ErrImageNeverPull | ImagePullBackOff | ErrImagePull | InvalidImageName)`.", "The pod asks for an image the node does not have and may not pull (pullPolicy Never for images built into minikube), or one the registry does not serve (wrong name, tag, or missing pull secret).", "`cargo xtask build --target minikube <service>` (or `minikube -p <profile> image load <image>`); for a registry, push the image and check `images.<service>.repository`, the tag and `imagePullSecrets`."),
    /// ErrImagePull / ImagePullBackOff for a reason the kubelet retries: a registry error,
    /// a rate limit (429), a timeout.
    ImagePull => ("DEPLOY_IMAGE_PULL_FAILED", 58, "the registry keeps failing to serve an image", "`✗ deploy failed` naming `image … cannot be pulled (ErrImagePull | ImagePullBackOff)` with the kubelet's message (a 429, a timeout, a registry error), after --pull-grace of retries.", "The kubelet could not fetch the image for a reason it retries: the registry is down or slow, rate-limits this node (Docker Hub's 429), or the node cannot reach it.", "Read the kubelet's message; check that the node reaches the registry; for Docker Hub's rate limit use a mirror or an `imagePullSecrets` login; `cargo xtask deploy --pull-grace 3m` waits longer."),
    /// The scheduler found no node with room.
    Unschedulable => ("DEPLOY_UNSCHEDULABLE", 53, "a pod cannot be scheduled", "`✗ deploy failed` naming `pod … cannot be scheduled: 0/1 nodes are available: … Insufficient cpu|memory` with the pod's requests and the node's allocatable, after --settle.", "No node has room for the pod's requests (too small a profile, other workloads), or a volume, taint or affinity rule keeps it off every node.", "Lower `resources.<component>.requests` in the chart values, or give minikube more: `minikube delete -p <profile> && cargo xtask up --cpus 4 --memory 8192`. For volumes and taints: `kubectl -n todo-app get pvc,events`."),
    /// Running but its readiness probe keeps failing.
    NotReady => ("DEPLOY_NOT_READY", 54, "a pod runs but never becomes Ready", "`✗ deploy failed: not every pod was Ready within <timeout>` naming `pod … container … runs but is not Ready` with its probe events (`Readiness probe failed: …`).", "The container started but its readiness endpoint keeps failing: the backend's /ready checks its database, so usually a dependency that is down or misconfigured (or a server too slow to answer within the probe's timeout).", "Read the probe events shown; `cargo xtask logs <component>`; check the dependency (`cargo xtask logs postgres`). A slow machine: `cargo xtask deploy --timeout 10m`."),
    /// An init container (the migration) failed.
    InitFailed => ("DEPLOY_INIT_FAILED", 55, "an init container (the migration) fails", "`✗ deploy failed` naming `init container migrate (or wait-for-database) of pod … failed` with its log, e.g. `password authentication failed for user \"todo\"`.", "The backend's migration or the frontend's wait for the database cannot reach or log in to PostgreSQL: a wrong DATABASE_URL, a database still starting beyond `config.databaseWaitSeconds`, or a PostgreSQL volume created with another password (the volume outlives `helm uninstall`, the password is set only when it is first created).", "Check DATABASE_URL and the database (`cargo xtask logs postgres`). A password mismatch after a reinstall: pass the old `secrets.postgresPassword` (`.data/secrets.env`), or delete the volume: `kubectl -n todo-app delete pvc data-todo-app-postgres-0` (its data is lost), then deploy again."),
    /// The kernel killed a container at its memory limit.
    OomKilled => ("DEPLOY_OOM_KILLED", 56, "a container ran out of memory", "`✗ deploy failed` naming `pod … container … was killed for running out of memory (OOMKilled, exit code 137); its memory limit is …`.", "The container used more memory than `resources.<component>.limits.memory`.", "Raise `resources.<component>.limits.memory` in the chart values (and the request with it if the node has room), then deploy again."),
    /// CreateContainerConfigError: a Secret, ConfigMap or key the container refers to is
    /// missing.
    ConfigError => ("DEPLOY_CONTAINER_CONFIG", 59, "a container's Secret or ConfigMap is missing", "`✗ deploy failed` naming `pod … container … cannot be created (CreateContainerConfigError): couldn't find key … in Secret …`, after --settle.", "The container refers to a Secret, ConfigMap or key that does not exist: often `secrets.existingSecret` naming a Secret without every key the chart needs.", "Create the Secret or key the message names (keys: DATABASE_URL, BETTER_AUTH_SECRET, MCP_SERVICE_TOKEN, and POSTGRES_PASSWORD with the in-cluster PostgreSQL), or drop `secrets.existingSecret` so the chart makes its own."),
    /// CreateContainerError: the runtime refused to create the container.
    CreateError => ("DEPLOY_CONTAINER_CREATE", 60, "the runtime cannot create a container", "`✗ deploy failed` naming `pod … container … cannot be created (CreateContainerError)` with the runtime's message, after --settle.", "The container runtime refused the container's spec: a name clash, a bad mount, a security setting the node does not support.", "Read the runtime's message; `kubectl -n todo-app describe pod <pod>` shows the events; `cargo xtask diagnose` collects them."),
    /// RunContainerError: the runtime created the container but could not start it.
    RunError => ("DEPLOY_CONTAINER_RUN", 61, "the runtime cannot start a container", "`✗ deploy failed` naming `pod … container … cannot start (RunContainerError)` with the runtime's message (e.g. `executable file not found in $PATH`), after --settle.", "The image's entry point or the command the chart gives does not exist in the image, or the runtime could not start it (permissions, a read-only path).", "Check the image was built from this repository (`cargo xtask build`), and that `images.<service>.repository` and tag name it; read the runtime's message."),
    /// Stuck in ContainerCreating with FailedMount events: a volume cannot be mounted.
    MountFailed => ("DEPLOY_MOUNT_FAILED", 62, "a volume cannot be mounted", "`✗ deploy failed` naming `pod … is stuck in ContainerCreating: FailedMount …` with the event, after --settle.", "A volume the pod needs cannot be attached or mounted: a PersistentVolume the node cannot reach, a missing Secret or ConfigMap volume, a full disk.", "Read the event; `kubectl -n todo-app get pvc,pv,events`; on minikube, `minikube -p <profile> ssh -- df -h` for the disk."),
    /// An init container still running past its own wait budget.
    InitOverrun => ("DEPLOY_INIT_OVERRUN", 63, "an init container waits past its budget", "`✗ deploy failed` naming `init container … of pod … is running for N s, past its budget of M s (config.databaseWaitSeconds + 30 s)` with its log.", "The backend's migration or the frontend's wait for the database did not finish in time: the database is down, unreachable, or its Service has no ready endpoint.", "`cargo xtask logs postgres`; `kubectl -n todo-app get pods,endpoints`; on a slow first start raise `config.databaseWaitSeconds`."),
    /// Not Ready and nothing wrong named yet (being scheduled, pulled, initialised):
    /// what a watch that runs out of time reports.
    Starting => ("DEPLOY_STILL_STARTING", 64, "a pod was still starting when the watch gave up", "`✗ deploy failed: not every pod was Ready within <timeout>` naming `pod … is still starting: phase Pending; …` with what it waits for.", "Nothing wrong was seen yet, only slowness: images being pulled for the first time, PostgreSQL initialising, a busy node.", "`cargo xtask status`; `cargo xtask deploy --timeout 10m` on a slow machine or a first pull."),
}

/// `helm upgrade --install` itself failed: nothing was rolled out.
pub const HELM_UPGRADE_FAILED: Entry = Entry {
    id: "DEPLOY_HELM_UPGRADE_FAILED",
    exit_code: 50,
    warning: false,
    title: "Helm refused the release",
    symptom: "`✗ deploy failed: helm upgrade failed:` with Helm's own error (e.g. `values don't meet the specifications of the schema`).",
    cause: "Helm or the API server refused the release before any pod ran: a value the chart's schema rejects, an object another release owns, an immutable field changed, a quota, or the cluster became unreachable.",
    fix: "Read Helm's error; `cargo xtask lint` and `helm template todo-app helm/todo-app -f helm/todo-app/values-dev.yaml` reproduce value errors without a cluster; `helm history todo-app -n todo-app` shows the release's state; `cargo xtask down` removes a stuck release.",
};

/// The readiness watch timed out without a problem it could name.
pub const READY_TIMEOUT: Entry = Entry {
    id: "DEPLOY_READY_TIMEOUT",
    exit_code: 57,
    warning: false,
    title: "not every pod was Ready in time",
    symptom: "`✗ deploy failed: not every pod was Ready within <timeout> (…)` with the rollout's progress and no named pod problem.",
    cause: "Pods were still starting (images pulling, PostgreSQL initialising) or the API server did not answer the watch's polls when --timeout ran out.",
    fix: "Look at the bundle's events.json and `cargo xtask status`; on a slow machine or a first pull, `cargo xtask deploy --timeout 10m`.",
};

/// Every deploy failure's entry, in the guide's order.
pub fn deploy_entries() -> Vec<&'static Entry> {
    std::iter::once(&HELM_UPGRADE_FAILED)
        .chain(Kind::ALL.iter().map(|k| k.entry()))
        .chain(std::iter::once(&READY_TIMEOUT))
        .collect()
}

/// A failed deploy's entry: its first pod problem's kind, else Helm's failure or the timeout.
pub fn failure_entry(reason: &str, first: Option<Kind>) -> &'static Entry {
    match first {
        Some(k) => k.entry(),
        None if reason.starts_with("helm upgrade failed") => &HELM_UPGRADE_FAILED,
        None => &READY_TIMEOUT,
    }
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub kind: Kind,
    pub pod: String,
    pub component: String,
    pub container: String,
    /// The reason as Kubernetes states it.
    pub reason: String,
    /// The kubelet's (or the event's) own words.
    pub message: String,
    pub image: String,
    pub restarts: u32,
    pub exit_code: Option<i32>,
    /// Read the crashed instance's logs (`--previous`) rather than the current one's.
    pub previous: bool,
    /// The container's memory limit, as written in its spec.
    pub limit: Option<String>,
    /// What the pod asks the scheduler for: millicores and bytes over its containers.
    pub requests: (u64, u64),
}

/// What naming a pod's problems needs besides the pod: the namespace's events (the cause of
/// an image pull back-off, failed mounts), the time now, and how long an init container may
/// run (the chart's `config.databaseWaitSeconds` + 30 s).
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen<'a> {
    pub events: &'a [Event],
    pub now: Option<i64>,
    pub init_budget: Option<u64>,
}

/// Slack on top of `config.databaseWaitSeconds` for the migrations themselves.
pub const INIT_SLACK_S: u64 = 30;

/// How long an init container may run: `config.databaseWaitSeconds` from the chart's values
/// (values-dev.yaml overriding values.yaml, as `deploy` passes them) + 30 s. `None` when
/// the chart does not say.
pub fn init_budget(root: &std::path::Path) -> Option<u64> {
    let chart = root.join(CHART);
    // The later file wins, as with `helm -f values.yaml -f values-dev.yaml`.
    ["values-dev.yaml", "values.yaml"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(chart.join(f)).ok())
        .filter_map(|text| serde_saphyr::from_str::<serde_json::Value>(&text).ok())
        .find_map(|v| v["config"]["databaseWaitSeconds"].as_u64())
        .map(|s| s + INIT_SLACK_S)
}

const NEVER_PULLED: [&str; 2] = ["ErrImageNeverPull", "InvalidImageName"];
const PULLING: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "ImageInspectError",
    "RegistryUnavailable",
];

/// A pull error that retrying cannot fix: the registry says the image (or its repository)
/// does not exist, or refuses it (docker's "pull access denied", containerd's "failed to
/// resolve reference ...: not found", the registry API's MANIFEST_UNKNOWN / NAME_UNKNOWN).
pub fn pull_not_found(message: &str) -> bool {
    let m = message.to_lowercase();
    [
        ": not found",
        " not found: manifest unknown",
        "manifest unknown",
        "name unknown",
        "repository does not exist",
        "pull access denied",
    ]
    .iter()
    .any(|s| m.contains(s))
        || (m.contains("manifest for ") && m.contains(" not found"))
}

/// The kubelet's words for a failed pull: the waiting message, or for a back-off (whose
/// message only says "Back-off pulling image") the last `Failed to pull image` event.
fn pull_message(pod: &str, image: &str, waiting: &Waiting, events: &[Event]) -> String {
    let own = waiting.message.clone().unwrap_or_default();
    if waiting.reason != "ImagePullBackOff" {
        return own;
    }
    let prefix = format!("Failed to pull image {image:?}: ");
    latest_event(events, pod, &["Failed"], |m| m.starts_with(&prefix))
        .map(|e| e.message[prefix.len()..].to_string())
        .unwrap_or(own)
}

/// What is wrong with one pod, most telling first; empty when nothing is (yet).
#[cfg(test)]
pub fn pod_problems(pod: &Pod) -> Vec<Problem> {
    pod_problems_in(pod, &Seen::default())
}

/// The same, with the events, the time and the init containers' budget to go by.
pub fn pod_problems_in(pod: &Pod, seen: &Seen) -> Vec<Problem> {
    let mut out = Vec::new();
    let requests = pod_requests(pod);
    let base = |kind: Kind, c: &ContainerStatus, reason: &str, message: &str| Problem {
        limit: pod
            .spec_of(&c.name)
            .and_then(|s| s.resources.limits.get("memory").cloned()),
        requests,
        kind,
        pod: pod.name().to_string(),
        component: pod.metadata.component().to_string(),
        container: c.name.clone(),
        reason: reason.to_string(),
        message: message.to_string(),
        image: pod
            .spec_of(&c.name)
            .map(|s| s.image.clone())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| c.image.clone()),
        restarts: c.restart_count,
        exit_code: None,
        previous: false,
    };
    let pod_level = |kind: Kind, reason: &str, message: String| Problem {
        kind,
        pod: pod.name().to_string(),
        component: pod.metadata.component().to_string(),
        container: String::new(),
        reason: reason.into(),
        message,
        image: String::new(),
        restarts: 0,
        exit_code: None,
        previous: false,
        limit: None,
        requests,
    };
    if let Some(c) = pod
        .condition("PodScheduled")
        .filter(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
    {
        out.push(pod_level(
            Kind::Unschedulable,
            "Unschedulable",
            c.message.clone().unwrap_or_default(),
        ));
        return out;
    }
    // A waiting state that names its own cause, for init and app containers alike.
    let waiting_problem = |c: &ContainerStatus| -> Option<Problem> {
        let w = c.state.waiting.as_ref()?;
        let msg = w.message.as_deref().unwrap_or("");
        let kind = match w.reason.as_str() {
            r if NEVER_PULLED.contains(&r) => Kind::ImageMissing,
            r if PULLING.contains(&r) => {
                let image = base(Kind::ImagePull, c, "", "").image;
                let m = pull_message(pod.name(), &image, w, seen.events);
                let kind = if pull_not_found(&m) {
                    Kind::ImageMissing
                } else {
                    Kind::ImagePull
                };
                return Some(base(kind, c, &w.reason, &m));
            }
            "CreateContainerConfigError" => Kind::ConfigError,
            "CreateContainerError" => Kind::CreateError,
            "RunContainerError" => Kind::RunError,
            _ => return None,
        };
        Some(base(kind, c, &w.reason, msg))
    };
    for c in &pod.status.init_container_statuses {
        let failed_now = c.state.terminated.as_ref().filter(|t| t.exit_code != 0);
        let backoff = c
            .state
            .waiting
            .as_ref()
            .filter(|w| w.reason == "CrashLoopBackOff");
        if let Some(p) = waiting_problem(c) {
            out.push(p);
        } else if failed_now.is_some() || backoff.is_some() {
            let t = failed_now.or(c.last_state.terminated.as_ref());
            let mut p = base(
                Kind::InitFailed,
                c,
                backoff
                    .map(|w| w.reason.as_str())
                    .or(t.and_then(|t| t.reason.as_deref()))
                    .unwrap_or("Error"),
                t.and_then(|t| t.message.as_deref()).unwrap_or(""),
            );
            p.exit_code = t.map(|t| t.exit_code);
            p.previous = failed_now.is_none();
            out.push(p);
        } else if let (Some(started), Some(now), Some(budget)) = (
            c.state
                .running
                .as_ref()
                .and_then(|r| r.started_at.as_deref())
                .and_then(parse_time),
            seen.now,
            seen.init_budget,
        ) {
            let ran = now - started;
            if ran > budget as i64 {
                out.push(base(
                    Kind::InitOverrun,
                    c,
                    "InitRunning",
                    &format!(
                        "running for {ran} s, past its budget of {budget} s (config.databaseWaitSeconds + {INIT_SLACK_S} s)"
                    ),
                ));
            }
        }
    }
    for c in &pod.status.container_statuses {
        let waiting = c.state.waiting.as_ref();
        let last = c.last_state.terminated.as_ref();
        let now = c.state.terminated.as_ref();
        let oom = [now, last]
            .into_iter()
            .flatten()
            .find(|t| t.reason.as_deref() == Some("OOMKilled"));
        if let Some(p) = waiting_problem(c) {
            out.push(p);
        } else if let Some(t) = oom {
            let mut p = base(Kind::OomKilled, c, "OOMKilled", "");
            p.exit_code = Some(t.exit_code);
            p.previous = now.is_none();
            out.push(p);
        } else if waiting.is_some_and(|w| w.reason == "CrashLoopBackOff")
            || now.is_some_and(|t| t.exit_code != 0)
        {
            let t = now.or(last);
            let reason = waiting
                .map(|w| w.reason.clone())
                .or_else(|| t.and_then(|t| t.reason.clone()))
                .unwrap_or_else(|| "Error".into());
            let mut p = base(
                Kind::Crash,
                c,
                &reason,
                t.and_then(|t| t.message.as_deref()).unwrap_or(""),
            );
            p.exit_code = t.map(|t| t.exit_code);
            p.previous = now.is_none();
            out.push(p);
        } else if c.state.running.is_some() && !c.ready {
            out.push(base(Kind::NotReady, c, "NotReady", ""));
        }
    }
    // Nothing started and the kubelet cannot mount a volume: the containers wait in
    // ContainerCreating (PodInitializing) for good.
    let nothing_started = pod
        .status
        .init_container_statuses
        .iter()
        .chain(&pod.status.container_statuses)
        .all(|c| c.state.running.is_none() && c.state.terminated.is_none());
    if out.is_empty() && !pod.ready() && nothing_started {
        if let Some(e) = latest_event(
            seen.events,
            pod.name(),
            &["FailedMount", "FailedAttachVolume"],
            |_| true,
        ) {
            let count = e.count.map(|c| format!(" (x{c})")).unwrap_or_default();
            out.push(pod_level(
                Kind::MountFailed,
                &e.reason,
                format!("{}{count}", e.message.trim()),
            ));
        }
    }
    out
}

/// Whether naming this pod's problem needs the namespace's events: the cause of a pull
/// back-off is only in them, and so is a failed mount of a pod none of whose containers
/// has started.
pub fn needs_events(pod: &Pod) -> bool {
    if pod.ready() || pod.terminating() {
        return false;
    }
    let all = || {
        pod.status
            .init_container_statuses
            .iter()
            .chain(&pod.status.container_statuses)
    };
    all().any(|c| {
        c.state
            .waiting
            .as_ref()
            .is_some_and(|w| w.reason == "ImagePullBackOff")
    }) || (pod.spec.node_name.is_some()
        && all().all(|c| c.state.running.is_none() && c.state.terminated.is_none()))
}

/// Why a pod that is not Ready (and has no named problem) is not Ready yet, in a line:
/// the phase, an init container still running and for how long, each waiting container.
pub fn pending(pod: &Pod, seen: &Seen) -> Option<Problem> {
    if pod.ready() || pod.terminating() {
        return None;
    }
    let mut parts = vec![format!(
        "phase {}",
        if pod.status.phase.is_empty() {
            "unknown"
        } else {
            &pod.status.phase
        }
    )];
    if pod.spec.node_name.is_none() && pod.condition("PodScheduled").is_none() {
        parts.push("not scheduled yet".into());
    }
    let mut init_running = None;
    for c in &pod.status.init_container_statuses {
        if let Some(r) = &c.state.running {
            let since = match (r.started_at.as_deref().and_then(parse_time), seen.now) {
                (Some(s), Some(n)) => format!(" for {} s", n - s),
                _ => String::new(),
            };
            let budget = seen
                .init_budget
                .map(|b| format!(" (budget {b} s)"))
                .unwrap_or_default();
            parts.push(format!("init container {} running{since}{budget}", c.name));
            init_running = Some(c);
        } else if let Some(w) = &c.state.waiting {
            parts.push(format!("init container {} waiting: {}", c.name, w.reason));
        }
    }
    for c in &pod.status.container_statuses {
        if let Some(w) = &c.state.waiting {
            parts.push(format!("container {} waiting: {}", c.name, w.reason));
        } else if c.state.running.is_some() && !c.ready {
            parts.push(format!("container {} running, not Ready", c.name));
        }
    }
    let requests = pod_requests(pod);
    Some(Problem {
        kind: Kind::Starting,
        pod: pod.name().to_string(),
        component: pod.metadata.component().to_string(),
        // The init container still at work has the logs worth showing.
        container: init_running.map(|c| c.name.clone()).unwrap_or_default(),
        reason: "NotReady".into(),
        message: parts.join("; "),
        image: String::new(),
        restarts: pod.restarts(),
        exit_code: None,
        previous: false,
        limit: None,
        requests,
    })
}
