//! What the xtask reads from a Kubernetes cluster, and what it makes of it:
//! - `objects`: pods, workloads, events, nodes, Helm history, as kubectl and helm print them;
//! - `diagnose`: what is wrong with a pod, named, with its guide entry and exit code;
//! - `quantity`: CPU and memory quantities and the scheduler's sums;
//! - `time`: timestamps, the clock and durations.

mod diagnose;
mod objects;
mod quantity;
mod time;

pub use diagnose::*;
pub use objects::*;
pub use quantity::*;
pub use time::*;

/// The labels every object of the release carries (docs/contract.md).
pub const SELECTOR: &str = "app=todo-chatbot";
pub const RELEASE: &str = "todo-app";
pub const NAMESPACE: &str = "todo-app";
pub const CHART: &str = "helm/todo-app";

#[cfg(test)]
mod tests;
