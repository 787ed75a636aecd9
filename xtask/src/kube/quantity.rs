//! Resource quantities (`250m`, `192Mi`) and the scheduler's arithmetic over them.

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::*;

/// The scheduler's view of a pod: the sum of its containers' requests, or its largest init
/// container's when that is more (init containers run one at a time, before the others).
pub fn pod_requests(pod: &Pod) -> (u64, u64) {
    let of = |c: &ContainerSpec| {
        let r = &c.resources.requests;
        (
            r.get("cpu").and_then(|q| cpu_millis(q)).unwrap_or(0),
            r.get("memory").and_then(|q| mem_bytes(q)).unwrap_or(0),
        )
    };
    scheduled_requests(
        pod.spec.containers.iter().map(of),
        pod.spec.init_containers.iter().map(of),
    )
}

/// The scheduler's rule for one pod, over (millicores, bytes) per container: the containers'
/// sum, or the largest init container's when that is more. The one home of that rule: the
/// live pods (`pod_requests`) and the rendered chart (`lint`) both count with it.
pub fn scheduled_requests(
    containers: impl IntoIterator<Item = (u64, u64)>,
    init_containers: impl IntoIterator<Item = (u64, u64)>,
) -> (u64, u64) {
    let sum = containers
        .into_iter()
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    init_containers
        .into_iter()
        .fold(sum, |a, b| (a.0.max(b.0), a.1.max(b.1)))
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

/// A CPU quantity as a chart or manifest holds it (`"250m"`, `"1"`, `0.5`), in millicores.
pub fn cpu_millis_of(q: &Value) -> Result<u64> {
    let s = quantity_str(q)?;
    cpu_millis(&s).with_context(|| format!("cpu quantity {s:?}"))
}

/// A memory quantity as a chart or manifest holds it (`"128Mi"`, `"1Gi"`, `1048576`), in bytes.
pub fn mem_bytes_of(q: &Value) -> Result<u64> {
    let s = quantity_str(q)?;
    mem_bytes(&s).with_context(|| format!("memory quantity {s:?}"))
}

fn quantity_str(q: &Value) -> Result<String> {
    match q {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => bail!("not a quantity: {other}"),
    }
}

pub fn mib(bytes: u64) -> String {
    format!("{}Mi", bytes >> 20)
}
