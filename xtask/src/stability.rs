//! `cargo xtask stability --watch 5m`: SC-004, no restart after Ready. Every pod must be
//! Ready at the start; then any container restart fails with the pod, container, reason and
//! the crashed instance's last log lines (with `--no-gates` the whole window is watched and
//! reported instead).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cluster;
use crate::ctx::Ctx;
use crate::kube;
use crate::report::{Gate, Report, Status};
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to watch (e.g. 5m, 2m, 90s).
    #[arg(long, default_value = "5m", value_parser = kube::parse_duration)]
    pub watch: Duration,
}

struct Restart {
    pod: String,
    container: String,
    count: u32,
    why: String,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let started = Instant::now();
        let pods = cluster::pods(ctx)?;
        let live: Vec<&kube::Pod> = pods.iter().filter(|p| !p.terminating()).collect();
        if live.is_empty() {
            bail!(
                "no pods of the release in namespace {}: `cargo xtask deploy` first",
                kube::NAMESPACE
            );
        }
        let unready: Vec<&str> = live
            .iter()
            .filter(|p| !p.ready())
            .map(|p| p.name())
            .collect();
        if !unready.is_empty() {
            bail!(
                "not every pod is Ready at the start ({}): `cargo xtask deploy`, or `cargo xtask diagnose`",
                unready.join(", ")
            );
        }
        let mut baseline: BTreeMap<(String, String), u32> = BTreeMap::new();
        for p in &live {
            for c in &p.status.container_statuses {
                baseline.insert((p.name().into(), c.name.clone()), c.restart_count);
            }
        }
        ctx.say(format!(
            "watching {} pods for {}s (SC-004: no restart after Ready) …",
            live.len(),
            self.watch.as_secs()
        ));
        let mut restarts: Vec<Restart> = Vec::new();
        let poll = cluster::poll_interval(ctx);
        while started.elapsed() < self.watch {
            std::thread::sleep(poll.min(self.watch.saturating_sub(started.elapsed())));
            if crate::process::interrupted() {
                bail!("interrupted");
            }
            let pods = match cluster::pods(ctx) {
                Ok(p) => p,
                Err(e) => {
                    ctx.say(format!("  ! poll failed: {e:#}"));
                    continue;
                }
            };
            for p in pods.iter().filter(|p| !p.terminating()) {
                for c in &p.status.container_statuses {
                    let key = (p.name().to_string(), c.name.clone());
                    let before = *baseline.entry(key.clone()).or_insert(0);
                    if c.restart_count <= before {
                        continue;
                    }
                    baseline.insert(key, c.restart_count);
                    let why = c
                        .last_termination()
                        .unwrap_or_else(|| "reason unknown".into());
                    let logs = ctx
                        .run(&cluster::kubectl(ctx).logs(p.name(), &c.name, 20, true))
                        .ok()
                        .filter(|o| o.success())
                        .map(|o| crate::process::redact(o.stdout.trim_end()))
                        .unwrap_or_else(|| "(no logs of the previous instance)".into());
                    ctx.say(format!(
                        "✗ pod {} container {} restarted ({why}) after Ready; its last log lines:\n{}",
                        p.name(),
                        c.name,
                        logs.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
                    ));
                    restarts.push(Restart {
                        pod: p.name().into(),
                        container: c.name.clone(),
                        count: c.restart_count - before,
                        why,
                    });
                }
            }
            if !restarts.is_empty() && !ctx.global.no_gates {
                break;
            }
        }
        let total: u32 = restarts.iter().map(|r| r.count).sum();
        let mut report = Report::new();
        report.task(
            "stability",
            started.elapsed(),
            if total == 0 {
                Status::Ok
            } else {
                Status::Failed
            },
        );
        report.gates.push(Gate::below(
            "SC-004",
            format!("restarts after Ready over {}s", self.watch.as_secs()),
            total as f64,
            1.0,
            "restarts",
        ));
        let path = report.write(&ctx.env, &ctx.target_dir().join("stability"))?;
        if total == 0 {
            ctx.say(format!(
                "✓ SC-004: no restart in {}s (report: {})",
                self.watch.as_secs(),
                ctx.rel(&path).display()
            ));
            return Ok(());
        }
        let list: Vec<String> = restarts
            .iter()
            .map(|r| format!("{}/{} ({})", r.pod, r.container, r.why))
            .collect();
        ctx.say(format!(
            "SC-004: {total} restart(s) after Ready: {}",
            list.join("; ")
        ));
        if ctx.global.no_gates {
            ctx.say("reported only (--no-gates)");
            return Ok(());
        }
        ctx.say("`cargo xtask diagnose` collects events and logs");
        Err(Exit(1).into())
    }
}
