//! `cargo xtask diagnose`: a bundle under `target/xtask/diagnose-<time>/` with what a person
//! (or CI's artifact upload) needs to understand a broken release: events, pods, `describe`
//! and logs of the unhealthy pods, helm history, the doctor's checks and the last report,
//! plus a short summary. `--ai` hands the summary to kubectl-ai when it is installed.
//!
//! Never the release's values, its manifest or a Secret's data: helm history holds revisions
//! and states only, `describe` shows a secret-sourced variable as a reference, and every file
//! is redacted of the secrets the xtask knows (pod logs may quote them). A command marked as
//! having sensitive output is saved as a note that it was withheld.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::cluster;
use crate::ctx::Ctx;
use crate::doctor;
use crate::kube;
use crate::tools::{self, KubectlAi};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ask kubectl-ai about the summary (when installed).
    #[arg(long)]
    pub ai: bool,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let snapshot = cluster::snapshot(ctx);
        let mut summary = Vec::new();
        let mut unhealthy = Vec::new();
        match &snapshot {
            Ok(snap) => {
                let events = cluster::events(ctx);
                let seen = kube::Seen {
                    events: &events,
                    now: Some(kube::now(&ctx.env)),
                    init_budget: kube::init_budget(&ctx.root),
                };
                for p in snap.live_pods() {
                    let mut problems = kube::pod_problems_in(p, &seen);
                    if !p.ready() || p.restarts() > 0 {
                        unhealthy.push(p.name().to_string());
                    }
                    // A pod that is not Ready is never summed up as Ready: with no named
                    // problem, its state says why.
                    if problems.is_empty() && !p.ready() {
                        problems.extend(kube::pending(p, &seen));
                    }
                    for pr in problems {
                        summary.push(cluster::explain(ctx, &pr));
                    }
                    if p.restarts() > 0 {
                        summary.push(format!(
                            "pod {} has restarted {} time(s)",
                            p.name(),
                            p.restarts()
                        ));
                    }
                }
                if snap.pods.is_empty() {
                    summary.push(format!(
                        "no pods of the release in namespace {} (not deployed? `cargo xtask deploy`)",
                        kube::NAMESPACE
                    ));
                } else if summary.is_empty() && snap.live_pods().all(kube::Pod::ready) {
                    summary.push(format!(
                        "all {} pods are Ready with no restarts",
                        snap.live_pods().count()
                    ));
                }
            }
            Err(e) => summary.push(format!("could not list the release's pods: {e:#}")),
        }
        let text = summary.join("\n\n");
        let dir = collect(ctx, &text, &unhealthy)?;
        ctx.show(&text);
        ctx.say(format!("bundle: {}", ctx.rel(&dir).display()));
        if self.ai {
            ask_ai(ctx, &text, &dir)?;
        }
        Ok(())
    }
}

/// Writes the bundle and returns its directory. Every piece is best effort: a cluster that
/// does not answer still yields the doctor's output, the report and the summary.
pub fn collect(ctx: &Ctx, summary: &str, pods: &[String]) -> Result<PathBuf> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut dir = ctx
        .target_dir()
        .join(format!("diagnose-{}", kube::stamp(now as i64)));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = ctx
            .target_dir()
            .join(format!("diagnose-{}-{n}", kube::stamp(now as i64)));
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let k = cluster::kubectl(ctx);
    let save = |name: &str, cmd: crate::process::Cmd| {
        let text = match ctx.run(&cmd) {
            Ok(o) => {
                let mut t = o.shown_stdout();
                if !o.success() {
                    t.push_str(&format!("\n(exit {:?})\n{}", o.code, o.stderr));
                }
                t
            }
            Err(e) => format!("could not run `{}`: {e:#}\n", cmd.display()),
        };
        let _ = fs::write(dir.join(name), crate::process::redact(&text));
    };
    save("events.json", k.events_json());
    save(
        "workloads-and-pods.json",
        k.get_workloads_and_pods(kube::SELECTOR),
    );
    save("helm-history.json", cluster::release(ctx).history());
    for pod in dedup(pods) {
        save(&format!("describe-{pod}.txt"), k.describe_pod(&pod));
        let containers = pod_containers(ctx, &pod);
        for c in containers {
            save(&format!("logs-{pod}-{c}.txt"), k.logs(&pod, &c, 200, false));
            save(
                &format!("logs-{pod}-{c}-previous.txt"),
                k.logs(&pod, &c, 200, true),
            );
        }
    }
    let checks = doctor::run_checks(ctx, false);
    let _ = fs::write(
        dir.join("doctor.json"),
        serde_json::to_string_pretty(&checks).unwrap_or_default(),
    );
    let report = ctx.target_dir().join("report.json");
    if report.is_file() {
        let _ = fs::copy(&report, dir.join("report.json"));
    }
    fs::write(
        dir.join("summary.txt"),
        crate::process::redact(summary) + "\n",
    )?;
    Ok(dir)
}

fn dedup(pods: &[String]) -> Vec<String> {
    let mut v = pods.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The containers (init ones first) of a pod, from the list the bundle already saved.
fn pod_containers(ctx: &Ctx, pod: &str) -> Vec<String> {
    cluster::pods(ctx)
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.name() == pod)
        .map(|p| {
            p.spec
                .init_containers
                .iter()
                .chain(&p.spec.containers)
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn ask_ai(ctx: &Ctx, summary: &str, dir: &Path) -> Result<()> {
    let kagent = tools::resolve(&ctx.root, &ctx.env, "kagent");
    if kagent.found() {
        ctx.say(format!(
            "kagent is installed ({}): its Kubernetes agents can investigate the cluster too (see `kagent --help`)",
            kagent.program.display()
        ));
    }
    let ai = tools::resolve(&ctx.root, &ctx.env, "kubectl-ai");
    if !ai.found() {
        ctx.say(format!(
            "kubectl-ai is not installed, so there is no AI to ask: install it from https://github.com/GoogleCloudPlatform/kubectl-ai (with an LLM key), then run `cargo xtask diagnose --ai`. The summary is in {}/summary.txt.",
            ctx.rel(dir).display()
        ));
        return Ok(());
    }
    let question = format!(
        "The Helm release {} in namespace {} (kube context {}) is unhealthy. What is the cause and the fix? Here is what was found:\n{}",
        kube::RELEASE,
        kube::NAMESPACE,
        crate::cluster::kube_context(ctx),
        crate::process::redact(summary)
    );
    ctx.run_ok(&KubectlAi { tool: &ai }.ask(&question))?;
    Ok(())
}
