//! Kubernetes objects as kubectl prints them (`kubectl get deployments,statefulsets,pods -o
//! json`, a `v1/List`), events, nodes and `helm history`. Only the fields the tasks use are
//! read; everything is optional so a newer API server's extra fields never break a poll.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::*;

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
        Some(ready_at - self.latest_start()?)
    }

    /// The pod's creation → its latest container start, in whole seconds: scheduling, the
    /// image, the init container (the migration) and the runtime's start. `None` until a
    /// container runs.
    pub fn created_to_started_seconds(&self) -> Option<i64> {
        let created = parse_time(self.metadata.creation_timestamp.as_deref()?)?;
        Some(self.latest_start()? - created)
    }

    /// The latest start of a running container (whole seconds); `None` while none runs.
    fn latest_start(&self) -> Option<i64> {
        self.status
            .container_statuses
            .iter()
            .filter_map(|c| c.state.running.as_ref()?.started_at.as_deref())
            .filter_map(parse_time)
            .max()
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
