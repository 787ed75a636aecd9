//! The whole command line, declared once. Each task's own flags live beside its code
//! (`doctor::Args`, `build::Args`, …); this file names the tasks and the global flags.

use clap::{Args, Parser, Subcommand};

use crate::{
    bench, build, deploy, dev, diagnose, doctor, down, hash, images, lint, logs, render, setup,
    smoke, stability, status, test, up,
};

/// Build, deploy and test the Todo Chatbot on a local Kubernetes cluster.
///
/// The main job is `cargo xtask deploy`; `cargo xtask test` runs every check of the repo.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub task: Task,
}

#[derive(Clone, Debug, Args)]
pub struct Global {
    /// Print the plan of commands (secrets redacted) and change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Echo every external command (-v) as it runs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The minikube profile to use (the default cluster).
    #[arg(
        long,
        global = true,
        env = "XTASK_MINIKUBE_PROFILE",
        default_value = "minikube"
    )]
    pub profile: String,
    /// Any kube context instead of a minikube profile (kind, Docker Desktop, a remote
    /// cluster). `deploy` then delivers images by `--registry`, `kind load` or the host daemon.
    #[arg(long, global = true, env = "XTASK_CONTEXT", conflicts_with = "profile")]
    pub context: Option<String>,
    /// Plain lines only, even on a terminal.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Measure and report the success-criteria gates, but never fail on them.
    #[arg(long, global = true)]
    pub no_gates: bool,
}

#[derive(Debug, Subcommand)]
pub enum Task {
    /// Check every prerequisite and say how to fix what is missing.
    Doctor(doctor::Args),
    /// Print the content-hashed image tag of each service.
    Hash(hash::Args),
    /// Build the images whose inputs changed (content-hashed tags).
    Build(build::Args),
    /// Image sizes and the SC-003 size gates.
    Images(images::Args),
    /// The project's benchmark: no-op build vs `docker build`, hashing, sizes, cold starts,
    /// serving throughput, and with `--context` the cluster (target/xtask/bench.md).
    Bench(bench::Args),
    /// Run every test suite of the repository (what CI runs).
    Test(test::Args),
    /// Render the chart into plain manifests under k8s/ (`--check`: fail on drift).
    Render(render::Args),
    /// Lint the chart and Dockerfiles: helm lint (Helm 3 and 4), schemas, policy, fit.
    Lint(lint::Args),
    /// Start the minikube profile with the ingress addon (idempotent).
    Up(up::Args),
    /// Build, install or upgrade the release, and watch it become Ready (the main job).
    Deploy(deploy::Args),
    /// Collect events, logs, describe output and helm history into a bundle.
    Diagnose(diagnose::Args),
    /// Check the deployed release: pods, backend via port-forward, ingress, a user journey, helm test.
    Smoke(smoke::Args),
    /// Watch the pods for restarts after Ready (SC-004).
    Stability(stability::Args),
    /// The release, its pods, images and URL.
    Status(status::Args),
    /// The logs of one component (frontend, backend, mcp, postgres).
    Logs(logs::Args),
    /// Uninstall the release (`--purge`: and its data; `--cluster`: and the profile).
    Down(down::Args),
    /// Run the whole app locally without a cluster: processes, `--release`, or `--containers`.
    Dev(dev::Args),
    /// Fetch the pinned kubectl, helm and minikube into .tools/, checksum-verified.
    Setup(setup::Args),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
