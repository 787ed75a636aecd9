//! Reading what kubectl prints: the release's workloads and pods (`kubectl get
//! deployments,statefulsets,pods -o json`, a `v1/List`), events, nodes and `helm history`,
//! and naming what is wrong with a pod the way Skaffold does. Only the fields the tasks use
//! are read; everything is optional so a newer API server's extra fields never break a poll.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::guide::Entry;

/// The labels every object of the release carries (CONTRACTS.md).
pub const SELECTOR: &str = "app=todo-chatbot";
pub const RELEASE: &str = "todo-app";
pub const NAMESPACE: &str = "todo-app";
pub const CHART: &str = "helm/todo-app";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    pub name: String,
    pub uid: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub generation: Option<i64>,
    pub creation_timestamp: Option<String>,
    pub deletion_timestamp: Option<String>,
}

impl Meta {
    pub fn component(&self) -> &str {
        self.labels
            .get("component")
            .map(String::as_str)
            .unwrap_or("?")
    }
}

// ---------------------------------------------------------------------------------------
// Pods

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    pub metadata: Meta,
    pub spec: PodSpec,
    pub status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    pub containers: Vec<ContainerSpec>,
    pub init_containers: Vec<ContainerSpec>,
    pub node_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub resources: Resources,
    #[serde(rename = "readinessProbe")]
    pub readiness_probe: Option<Probe>,
}

/// A probe's timings (Kubernetes' defaults where the spec leaves them out).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Probe {
    pub period_seconds: u64,
    pub timeout_seconds: u64,
    pub failure_threshold: u64,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            period_seconds: 10,
            timeout_seconds: 1,
            failure_threshold: 3,
        }
    }
}

impl Probe {
    /// How long the probe may fail before the kubelet itself gives up on it: failureThreshold
    /// periods, the last one with its timeout.
    pub fn threshold(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.period_seconds * self.failure_threshold + self.timeout_seconds,
        )
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Resources {
    pub limits: BTreeMap<String, String>,
    pub requests: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    pub phase: String,
    pub conditions: Vec<Condition>,
    pub container_statuses: Vec<ContainerStatus>,
    pub init_container_statuses: Vec<ContainerStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    pub name: String,
    pub image: String,
    pub ready: bool,
    /// The startup probe has passed (or there is none) once the container runs.
    pub started: Option<bool>,
    pub restart_count: u32,
    pub state: State,
    pub last_state: State,
}

impl ContainerStatus {
    /// Why the previous instance ended, `OOMKilled, exit code 137`, when Kubernetes says.
    pub fn last_termination(&self) -> Option<String> {
        self.last_state.terminated.as_ref().map(|t| {
            format!(
                "{}, exit code {}",
                t.reason.as_deref().unwrap_or("?"),
                t.exit_code
            )
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct State {
    pub waiting: Option<Waiting>,
    pub running: Option<Running>,
    pub terminated: Option<Terminated>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Waiting {
    pub reason: String,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Running {
    pub started_at: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Terminated {
    pub exit_code: i32,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub finished_at: Option<String>,
}

impl Pod {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn terminating(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }

    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.status.conditions.iter().find(|c| c.kind == kind)
    }

    pub fn ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }

    pub fn restarts(&self) -> u32 {
        self.status
            .container_statuses
            .iter()
            .map(|c| c.restart_count)
            .sum()
    }

    pub fn spec_of(&self, container: &str) -> Option<&ContainerSpec> {
        self.spec
            .containers
            .iter()
            .chain(&self.spec.init_containers)
            .find(|c| c.name == container)
    }

    /// SC-002: the latest container start → the Ready condition, in whole seconds (both
    /// timestamps have one-second resolution). `None` until the pod is Ready.
    pub fn cold_start_seconds(&self) -> Option<i64> {
        let ready = self.condition("Ready").filter(|c| c.status == "True")?;
        let ready_at = parse_time(ready.last_transition_time.as_deref()?)?;
        let started = self
            .status
            .container_statuses
            .iter()
            .filter_map(|c| c.state.running.as_ref()?.started_at.as_deref())
            .filter_map(parse_time)
            .max()?;
        Some(ready_at - started)
    }

    /// The pod's creation → its latest container start, in whole seconds: scheduling, the
    /// image, the init container (the migration) and the runtime's start. `None` until a
    /// container runs.
    pub fn created_to_started_seconds(&self) -> Option<i64> {
        let created = parse_time(self.metadata.creation_timestamp.as_deref()?)?;
        let started = self
            .status
            .container_statuses
            .iter()
            .filter_map(|c| c.state.running.as_ref()?.started_at.as_deref())
            .filter_map(parse_time)
            .max()?;
        Some(started - created)
    }
}

// ---------------------------------------------------------------------------------------
// Workloads

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Workload {
    pub kind: String,
    pub metadata: Meta,
    pub spec: WorkloadSpec,
    pub status: WorkloadStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct WorkloadSpec {
    pub replicas: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadStatus {
    pub observed_generation: Option<i64>,
    pub replicas: u32,
    pub updated_replicas: u32,
    pub ready_replicas: u32,
    pub current_revision: Option<String>,
    pub update_revision: Option<String>,
}

impl Workload {
    /// Rolled out as `kubectl rollout status` sees it: the controller saw the new spec, every
    /// replica runs it and is Ready, and no old replica is left.
    pub fn rolled_out(&self) -> bool {
        let want = self.spec.replicas.unwrap_or(1);
        let s = &self.status;
        let observed = match (s.observed_generation, self.metadata.generation) {
            (Some(o), Some(g)) => o >= g,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        let revision_done = self.kind != "StatefulSet" || s.current_revision == s.update_revision;
        observed
            && s.updated_replicas >= want
            && s.ready_replicas >= want
            && s.replicas == want
            && revision_done
    }

    pub fn progress(&self) -> String {
        format!(
            "{} {}: {}/{} ready",
            self.kind.to_lowercase(),
            self.metadata.name,
            self.status.ready_replicas,
            self.spec.replicas.unwrap_or(1)
        )
    }
}

/// What one poll saw.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub workloads: Vec<Workload>,
    pub pods: Vec<Pod>,
}

impl Snapshot {
    /// Reads a `v1/List` (or any object with `items`) of deployments, statefulsets and pods.
    pub fn parse(stdout: &str) -> Result<Snapshot> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            items: Vec<serde_json::Value>,
        }
        let list: List = serde_json::from_str(stdout.trim())
            .context("unexpected `kubectl get -o json` output")?;
        let mut snap = Snapshot::default();
        for item in list.items {
            match item.get("kind").and_then(|k| k.as_str()) {
                Some("Pod") => snap.pods.push(serde_json::from_value(item)?),
                Some("Deployment") | Some("StatefulSet") => {
                    snap.workloads.push(serde_json::from_value(item)?)
                }
                _ => {}
            }
        }
        snap.pods
            .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(snap)
    }

    /// The pods that count: not on their way out.
    pub fn live_pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(|p| !p.terminating())
    }

    pub fn all_ready(&self) -> bool {
        !self.workloads.is_empty()
            && self.workloads.iter().all(Workload::rolled_out)
            && self.live_pods().all(Pod::ready)
    }
}

pub fn parse_pods(stdout: &str) -> Result<Vec<Pod>> {
    Ok(Snapshot::parse(stdout)?.pods)
}

/// What the pods of `kubectl get pods -A` other than the release's own ask the scheduler
/// for, in millicores and bytes. Finished pods (Succeeded, Failed) hold nothing.
pub fn other_pods_requests(pods: &[Pod]) -> (u64, u64) {
    pods.iter()
        .filter(|p| {
            let ours = p.metadata.namespace.as_deref() == Some(NAMESPACE)
                && p.metadata.labels.get("app").map(String::as_str) == Some("todo-chatbot");
            !ours && !matches!(p.status.phase.as_str(), "Succeeded" | "Failed")
        })
        .map(pod_requests)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// The nodes' allocatable CPU (millicores) and memory (bytes), summed.
pub fn allocatable(nodes: &[Node]) -> (u64, u64) {
    nodes
        .iter()
        .map(|n| {
            (
                n.status
                    .allocatable
                    .get("cpu")
                    .and_then(|c| cpu_millis(c))
                    .unwrap_or(0),
                n.status
                    .allocatable
                    .get("memory")
                    .and_then(|m| mem_bytes(m))
                    .unwrap_or(0),
            )
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

// ---------------------------------------------------------------------------------------
// Events and nodes

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    pub involved_object: ObjectRef,
    pub reason: String,
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub count: Option<u32>,
    pub last_timestamp: Option<String>,
    pub event_time: Option<String>,
}

impl Event {
    /// When the event last happened (`lastTimestamp`, or `eventTime` for events.k8s.io ones).
    pub fn at(&self) -> Option<i64> {
        self.last_timestamp
            .as_deref()
            .or(self.event_time.as_deref())
            .and_then(parse_time)
    }
}

/// The newest event about `pod` with one of `reasons` whose message passes `keep`.
pub fn latest_event<'a>(
    events: &'a [Event],
    pod: &str,
    reasons: &[&str],
    keep: impl Fn(&str) -> bool,
) -> Option<&'a Event> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.involved_object.name == pod
                && reasons.contains(&e.reason.as_str())
                && keep(&e.message)
        })
        // Newest by time; among equal (or missing) times, the later in the list.
        .max_by_key(|(i, e)| (e.at().unwrap_or(i64::MIN), *i))
        .map(|(_, e)| e)
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectRef {
    pub kind: String,
    pub name: String,
}

pub fn parse_events(stdout: &str) -> Result<Vec<Event>> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        items: Vec<Event>,
    }
    let l: List =
        serde_json::from_str(stdout.trim()).context("unexpected `kubectl get events` output")?;
    Ok(l.items)
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Node {
    pub metadata: Meta,
    pub status: NodeStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    pub allocatable: BTreeMap<String, String>,
}

pub fn parse_nodes(stdout: &str) -> Result<Vec<Node>> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        items: Vec<Node>,
    }
    let l: List =
        serde_json::from_str(stdout.trim()).context("unexpected `kubectl get nodes` output")?;
    Ok(l.items)
}

// ---------------------------------------------------------------------------------------
// helm history

#[derive(Clone, Debug, Deserialize)]
pub struct Revision {
    pub revision: u32,
    #[serde(default)]
    pub status: String,
}

pub fn parse_history(stdout: &str) -> Result<Vec<Revision>> {
    serde_json::from_str(stdout.trim()).context("unexpected `helm history -o json` output")
}

/// The revision a failed upgrade goes back to: the newest one that was deployed.
pub fn last_deployed(history: &[Revision]) -> Option<u32> {
    history
        .iter()
        .filter(|r| r.status == "deployed" || r.status == "superseded")
        .map(|r| r.revision)
        .max()
}

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

/// Seconds since the epoch: `XTASK_NOW` (RFC 3339; the tests pin the clock to their
/// fixtures' timestamps) or the system clock.
pub fn now() -> i64 {
    if let Some(t) = std::env::var("XTASK_NOW").ok().and_then(|v| parse_time(&v)) {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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

/// The scheduler's view of a pod: the sum of its containers' requests, or its largest init
/// container's when that is more (init containers run one at a time, before the others).
pub fn pod_requests(pod: &Pod) -> (u64, u64) {
    let of = |c: &ContainerSpec| {
        (
            c.resources
                .requests
                .get("cpu")
                .and_then(|q| cpu_millis(q))
                .unwrap_or(0),
            c.resources
                .requests
                .get("memory")
                .and_then(|q| mem_bytes(q))
                .unwrap_or(0),
        )
    };
    let sum = pod
        .spec
        .containers
        .iter()
        .map(of)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    pod.spec
        .init_containers
        .iter()
        .map(of)
        .fold(sum, |a, b| (a.0.max(b.0), a.1.max(b.1)))
}

// ---------------------------------------------------------------------------------------
// Quantities and times

/// Reads a Kubernetes CPU quantity (`250m`, `2`, `1.5`) as millicores.
pub fn cpu_millis(q: &str) -> Option<u64> {
    match q.strip_suffix('m') {
        Some(m) => m.parse().ok(),
        None => q.parse::<f64>().ok().map(|c| (c * 1000.0).round() as u64),
    }
}

/// Reads a memory quantity (`192Mi`, `4Gi`, `3920148Ki`, `512M`, bytes) as bytes.
pub fn mem_bytes(q: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, mult) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| (n * mult as f64) as u64);
        }
    }
    q.parse().ok()
}

pub fn mib(bytes: u64) -> String {
    format!("{}Mi", bytes >> 20)
}

/// RFC 3339 as Kubernetes writes it (`2026-05-01T10:00:03Z`) → seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|n| n.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.trim_end_matches('Z');
    let time = time.split(['+', '.']).next()?;
    let mut t = time.split(':').map(|n| n.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Howard Hinnant's days-from-civil: proleptic Gregorian date → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch → `YYYYMMDD-HHMMSS` (UTC), for directory names.
pub fn stamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days, the inverse of the above.
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses `5m`, `90s`, `2m30s`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    for ch in s.trim().chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected e.g. 5m, 90s, 1h"))?;
        num.clear();
        total += n * match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("{s:?}: unknown unit `{ch}` (use s, m or h)")),
        };
    }
    if !num.is_empty() {
        total += num.parse::<u64>().map_err(|e| e.to_string())?;
    }
    if total == 0 {
        return Err(format!("{s:?}: the duration must be positive"));
    }
    Ok(std::time::Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        let t = parse_time("2026-05-01T10:00:03Z").unwrap();
        assert_eq!(stamp(t), "20260501-100003");
        assert_eq!(parse_time("2026-05-01T10:00:03.123+00:00"), Some(t));
        assert_eq!(parse_time("garbage"), None);
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("250m"), Some(250));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("1.5"), Some(1500));
        assert_eq!(mem_bytes("192Mi"), Some(192 << 20));
        assert_eq!(mem_bytes("3920148Ki"), Some(3920148 << 10));
        assert_eq!(mem_bytes("512M"), Some(512_000_000));
        assert_eq!(mib(mem_bytes("4Gi").unwrap()), "4096Mi");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("2m30s").unwrap().as_secs(), 150);
        assert_eq!(parse_duration("45").unwrap().as_secs(), 45);
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("0s").is_err());
    }

    fn fixture(name: &str) -> Snapshot {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cluster")
            .join(name);
        Snapshot::parse(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn kinds(name: &str) -> Vec<(Kind, String, String)> {
        fixture(name)
            .live_pods()
            .flat_map(pod_problems)
            .map(|p| (p.kind, p.pod, p.container))
            .collect()
    }

    #[test]
    fn readiness_follows_the_rollout_not_just_the_pods() {
        let ready = fixture("ready.json");
        assert_eq!((ready.workloads.len(), ready.pods.len()), (4, 6));
        assert!(ready.all_ready());
        assert!(!fixture("progress-1.json").all_ready());
        assert!(!fixture("progress-2.json").all_ready());
        // Every pod Ready, but a Deployment whose controller has not seen the new spec yet.
        let mut stale = fixture("ready.json");
        stale.workloads[0].metadata.generation = Some(2);
        assert!(!stale.all_ready());
        let cold: Vec<i64> = ready
            .live_pods()
            .filter_map(Pod::cold_start_seconds)
            .collect();
        assert_eq!(cold, vec![2; 6]);
        let created: Vec<i64> = ready
            .live_pods()
            .filter_map(Pod::created_to_started_seconds)
            .collect();
        assert_eq!(created, vec![5; 6]);
        // Containers still waiting: no start yet.
        assert_eq!(
            fixture("progress-1.json")
                .live_pods()
                .filter_map(Pod::created_to_started_seconds)
                .count(),
            0
        );
    }

    #[test]
    fn each_failure_kind_is_named() {
        let backend = "todo-app-backend-5b8f7d9c6-h3j9m".to_string();
        assert_eq!(
            kinds("crashloop.json"),
            [(Kind::Crash, backend.clone(), "backend".into())]
        );
        assert_eq!(
            kinds("init-failed.json"),
            [(Kind::InitFailed, backend.clone(), "migrate".into())]
        );
        assert_eq!(
            kinds("oom.json"),
            [(Kind::OomKilled, backend.clone(), "backend".into())]
        );
        assert_eq!(
            kinds("not-ready.json"),
            [(Kind::NotReady, backend.clone(), "backend".into())]
        );
        assert_eq!(
            kinds("unschedulable.json"),
            [(Kind::Unschedulable, backend, String::new())]
        );
        assert_eq!(
            kinds("image-missing.json"),
            [(
                Kind::ImageMissing,
                "todo-app-frontend-7c9d8b6f5-k2x7p".into(),
                "frontend".into()
            )]
        );
        assert!(kinds("ready.json").is_empty());
        assert!(
            kinds("progress-1.json").is_empty(),
            "creating is not failing"
        );
        let oom = fixture("oom.json")
            .live_pods()
            .flat_map(pod_problems)
            .next()
            .unwrap();
        assert_eq!(oom.limit.as_deref(), Some("512Mi"));
        assert_eq!(oom.requests, (100, 192 << 20));
    }

    fn events(name: &str) -> Vec<Event> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cluster")
            .join(name);
        parse_events(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn problems_in(name: &str, seen: &Seen) -> Vec<Problem> {
        fixture(name)
            .live_pods()
            .flat_map(|p| pod_problems_in(p, seen))
            .collect()
    }

    #[test]
    fn waiting_states_with_their_own_cause_are_named_with_the_kubelets_message() {
        let backend = "todo-app-backend-5b8f7d9c6-h3j9m".to_string();
        assert_eq!(
            kinds("config-error.json"),
            [(Kind::ConfigError, backend.clone(), "migrate".into())]
        );
        assert_eq!(
            kinds("create-error.json"),
            [(Kind::CreateError, backend.clone(), "backend".into())]
        );
        assert_eq!(
            kinds("run-error.json"),
            [(Kind::RunError, backend.clone(), "backend".into())]
        );
        let p = &problems_in("config-error.json", &Seen::default())[0];
        assert_eq!(
            p.message,
            "couldn't find key DATABASE_URL in Secret todo-app/todo-external"
        );
        assert!(problems_in("run-error.json", &Seen::default())[0]
            .message
            .contains("exec: \"todo-backend\": executable file not found in $PATH"));
    }

    #[test]
    fn a_pod_stuck_in_container_creating_is_named_by_its_failed_mount_events() {
        // Without the events ContainerCreating is just slow; with them it is a failed mount.
        assert!(kinds("mount-failed.json").is_empty());
        let ev = events("events-mount-failed.json");
        let seen = Seen {
            events: &ev,
            ..Seen::default()
        };
        let found = problems_in("mount-failed.json", &seen);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (
                found[0].kind,
                found[0].pod.as_str(),
                found[0].reason.as_str()
            ),
            (Kind::MountFailed, "todo-app-postgres-0", "FailedMount")
        );
        assert_eq!(
            found[0].message,
            "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[]: context deadline exceeded (x3)"
        );
        // A pod whose containers run is never a mount problem, whatever the events say.
        assert!(problems_in("ready.json", &seen).is_empty());
    }

    #[test]
    fn an_init_container_past_its_budget_is_an_overrun() {
        let started = parse_time("2026-05-01T10:00:02Z").unwrap();
        let at = |secs: i64| Seen {
            events: &[],
            now: Some(started + secs),
            init_budget: Some(330),
        };
        assert!(problems_in("init-running.json", &at(330)).is_empty());
        let over = problems_in("init-running.json", &at(331));
        assert_eq!(
            (over[0].kind, over[0].container.as_str()),
            (Kind::InitOverrun, "migrate")
        );
        assert_eq!(
            over[0].message,
            "running for 331 s, past its budget of 330 s (config.databaseWaitSeconds + 30 s)"
        );
        // Without a budget (no chart values) nothing is over.
        let unknown = Seen {
            init_budget: None,
            ..at(10_000)
        };
        assert!(problems_in("init-running.json", &unknown).is_empty());
        // And a pod that is not Ready gets its state, never silence.
        let snap = fixture("init-running.json");
        let pod = snap
            .live_pods()
            .find(|p| p.name() == "todo-app-backend-5b8f7d9c6-h3j9m")
            .unwrap();
        let p = pending(pod, &at(58)).unwrap();
        assert_eq!(p.kind, Kind::Starting);
        assert_eq!(
            p.message,
            "phase Pending; init container migrate running for 58 s (budget 330 s); container backend waiting: PodInitializing"
        );
        assert_eq!(p.container, "migrate");
    }

    #[test]
    fn the_init_budget_comes_from_the_charts_values() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(init_budget(dir.path()), None);
        let chart = dir.path().join(CHART);
        std::fs::create_dir_all(&chart).unwrap();
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/todo-app/values.yaml"),
            chart.join("values.yaml"),
        )
        .unwrap();
        assert_eq!(init_budget(dir.path()), Some(330));
        std::fs::write(
            chart.join("values-dev.yaml"),
            "config:\n  databaseWaitSeconds: 60\n",
        )
        .unwrap();
        assert_eq!(init_budget(dir.path()), Some(90));
    }

    #[test]
    fn image_pulls_are_told_apart_by_the_kubelets_message() {
        // Our image, pulled and not found (containerd's resolver): permanent.
        let nf = problems_in("pull-not-found.json", &Seen::default());
        assert_eq!(
            (nf[0].kind, nf[0].reason.as_str()),
            (Kind::ImageMissing, "ErrImagePull")
        );
        assert!(nf[0].message.contains("failed to resolve reference \"docker.io/library/todo-backend:8c1d2e3f4a5b\": docker.io/library/todo-backend:8c1d2e3f4a5b: not found"));
        assert_eq!(nf[0].image, "todo-backend:8c1d2e3f4a5b");
        // A back-off: its own message has no cause, the events do (a 429): retried.
        let bare = problems_in("pull-backoff.json", &Seen::default());
        assert_eq!(bare[0].kind, Kind::ImagePull);
        assert_eq!(
            bare[0].message,
            "Back-off pulling image \"postgres:16-alpine\""
        );
        let ev = events("events-pull-429.json");
        let seen = Seen {
            events: &ev,
            ..Seen::default()
        };
        let rl = problems_in("pull-backoff.json", &seen);
        assert_eq!(rl[0].kind, Kind::ImagePull);
        assert!(
            rl[0]
                .message
                .ends_with("unexpected status code [manifests 16-alpine]: 429 Too Many Requests"),
            "{}",
            rl[0].message
        );
        // Never pulled (pull policy Never): missing at once.
        let never = problems_in("image-missing.json", &Seen::default());
        assert_eq!(
            (never[0].kind, never[0].reason.as_str()),
            (Kind::ImageMissing, "ErrImageNeverPull")
        );
    }

    #[test]
    fn pull_errors_that_retrying_cannot_fix() {
        // Docker Engine (moby's distribution errors) through cri-dockerd.
        assert!(pull_not_found("rpc error: code = Unknown desc = Error response from daemon: manifest for postgres:99 not found: manifest unknown: manifest unknown"));
        assert!(pull_not_found("rpc error: code = Unknown desc = Error response from daemon: pull access denied for todo-backend, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"));
        // containerd's resolver.
        assert!(pull_not_found("failed to pull and unpack image \"docker.io/library/x:1\": failed to resolve reference \"docker.io/library/x:1\": docker.io/library/x:1: not found"));
        // Retried by the kubelet: rate limits, timeouts, an unavailable registry.
        assert!(!pull_not_found("rpc error: code = Unknown desc = Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"));
        assert!(!pull_not_found("rpc error: code = Unknown desc = Error response from daemon: Get \"https://registry-1.docker.io/v2/\": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)"));
        assert!(!pull_not_found(
            "image pull failed for postgres:16-alpine because the registry is unavailable"
        ));
    }

    #[test]
    fn deploy_and_doctor_ids_and_exit_codes_are_unique() {
        let doctor = crate::doctor::PROBLEMS.iter();
        let all: Vec<&Entry> = deploy_entries().into_iter().chain(doctor).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(
                a.id.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{} is not an anchor-safe id",
                a.id
            );
            assert!(
                a.exit_code > 2,
                "{} uses the generic exit code {}",
                a.id,
                a.exit_code
            );
            for b in &all[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(a.exit_code, b.exit_code, "{} and {}", a.id, b.id);
            }
        }
        assert_eq!(Kind::Crash.entry().exit_code, 51);
        assert_eq!(
            failure_entry("helm upgrade failed:\nError: …", None).id,
            "DEPLOY_HELM_UPGRADE_FAILED"
        );
        assert_eq!(failure_entry("not every pod was Ready", None).exit_code, 57);
        assert_eq!(
            failure_entry("not every pod was Ready", Some(Kind::NotReady)).exit_code,
            54
        );
    }

    #[test]
    fn last_deployed_skips_failed_revisions() {
        let h = parse_history(
            r#"[{"revision":1,"status":"superseded"},{"revision":2,"status":"deployed"},{"revision":3,"status":"failed"}]"#,
        )
        .unwrap();
        assert_eq!(last_deployed(&h), Some(2));
        let failed_only = parse_history(r#"[{"revision":1,"status":"failed"}]"#).unwrap();
        assert_eq!(last_deployed(&failed_only), None);
    }
}
