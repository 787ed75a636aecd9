//! `cargo xtask smoke`: is the deployed release actually working? Each check says ✓ or ✗
//! with the reason; any ✗ fails the command.
//!
//! 1. pods: every pod Running and Ready, with no restart;
//! 2. the backend's `/health` and `/ready` through `kubectl port-forward` (kubectl picks a
//!    free local port and prints it; the forward is stopped whatever happens);
//! 3. the ingress, sending `Host: todo.local` itself so no hosts entry is needed: `/` is
//!    HTML, `/api/health` answers 200;
//! 4. end to end through the ingress: a throwaway user signs up, adds a task, asks the chat
//!    to add another, sees both, and is deleted again (`--keep` keeps it) — `flow.rs`;
//! 5. `helm test`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cluster;
use crate::ctx::Ctx;
use crate::flow;
use crate::http::{self, excerpt};
use crate::kube;
use crate::process::Background;
use crate::report::{Outcome, Report, Skip};
use crate::services;
use crate::Exit;

const HOST: &str = "todo.local";
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the throwaway user and its tasks (for a look in the UI).
    #[arg(long)]
    pub keep: bool,
    /// Where the ingress answers, `HOST[:PORT]` (default: `minikube ip`, port 80; with
    /// `minikube tunnel` on macOS or Windows, 127.0.0.1).
    #[arg(long, env = "XTASK_INGRESS_ADDR")]
    pub ingress_addr: Option<String>,
    /// How long `helm test` may take.
    #[arg(long, default_value = "2m", value_parser = kube::parse_duration)]
    pub helm_test_timeout: Duration,
}

struct Check {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        if ctx.global.dry_run {
            ctx.show(format!(
                "would run: {}",
                cluster::kubectl(ctx)
                    .get_pods_json(kube::SELECTOR)
                    .display()
            ));
            ctx.show(format!(
                "would run: {} &   (then GET /health and /ready on the forwarded port)",
                cluster::kubectl(ctx)
                    .port_forward("svc/backend-service", services::service("backend").port)
                    .display()
            ));
            ctx.show(format!("would GET http://<the ingress address>/ and /api/health with Host: {HOST}, then the end-to-end journey"));
            ctx.show(format!(
                "would run: {}",
                cluster::release(ctx).test(self.helm_test_timeout).display()
            ));
            return Ok(());
        }
        let mut checks = Vec::new();
        let mut timed = |name: &'static str, f: &mut dyn FnMut() -> Result<String>| {
            let t = Instant::now();
            let outcome = Outcome::of(f());
            let took = t.elapsed();
            ctx.say(crate::process::redact(&outcome.line(name)));
            checks.push(Check {
                name,
                outcome,
                took,
            });
        };
        timed("pods", &mut || pods_check(ctx));
        timed("backend via port-forward", &mut || backend_check(ctx));
        let addr = self.ingress_addr(ctx);
        let mut ingress_ok = false;
        timed("ingress /", &mut || {
            let addr = addr.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let r = get(addr, "/")?;
            front_door(addr, &r)?;
            ingress_ok = true;
            Ok(format!(
                "a page linking to /sign-in from http://{addr}/ (Host: {HOST})"
            ))
        });
        timed("ingress /api/health", &mut || {
            let addr = addr.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let r = get(addr, "/api/health")?;
            if r.status != 200 {
                ingress_ok = false;
                bail!("GET /api/health → HTTP {}: {}", r.status, excerpt(&r.body));
            }
            Ok("200".into())
        });
        timed("end to end", &mut || {
            let addr = addr.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            if !ingress_ok {
                return Err(Skip("the ingress checks above failed".into()).into());
            }
            let j = flow::run(
                &format!("http://{addr}"),
                &format!("http://{HOST}"),
                Some(HOST),
                self.keep,
            )?;
            Ok(format!(
                "signed up, added a task, chat added \"buy milk\", {} tasks listed, {}",
                j.tasks_seen,
                if self.keep {
                    format!("user {} kept (--keep)", j.user_id)
                } else {
                    "user and data deleted".into()
                }
            ))
        });
        timed("helm test", &mut || {
            let cmd = cluster::release(ctx).test(self.helm_test_timeout);
            let out = ctx.run(&cmd)?;
            if !out.success() {
                // A failed test pod stays (its delete policy is hook-succeeded): its log says why.
                let logs = ctx
                    .run(&cluster::kubectl(ctx).logs(TEST_POD, "health", 30, false))
                    .ok()
                    .filter(|o| o.success())
                    .map(|o| format!("\nthe test pod's log:\n{}", o.stdout.trim_end()))
                    .unwrap_or_default();
                bail!("{}{logs}", crate::ctx::failure_message(&cmd, &out));
            }
            let phase = out
                .stdout
                .lines()
                .find_map(|l| l.trim().strip_prefix("Phase:"))
                .map(str::trim)
                .unwrap_or("done");
            Ok(format!("test hooks {phase}"))
        });

        let mut report = Report::new();
        for c in &checks {
            report.task(&format!("smoke: {}", c.name), c.took, c.outcome.status());
        }
        let path = report.write(&ctx.env, &ctx.target_dir().join("smoke"))?;
        let named = |keep: fn(&Outcome) -> bool| -> Vec<&str> {
            checks
                .iter()
                .filter(|c| keep(&c.outcome))
                .map(|c| c.name)
                .collect()
        };
        let failed = named(|o| matches!(o, Outcome::Fail(_)));
        let skipped = named(|o| matches!(o, Outcome::Skip(_)));
        if ctx.global.json {
            ctx.show(serde_json::to_string_pretty(&report)?);
        }
        ctx.say(format!(
            "smoke: {} passed, {} failed{} (report: {})",
            checks.len() - failed.len() - skipped.len(),
            failed.len(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(", {} skipped", skipped.len())
            },
            ctx.rel(&path).display()
        ));
        // A skipped check was not proven to work, so it fails the smoke like a failed one.
        if failed.is_empty() && skipped.is_empty() {
            Ok(())
        } else {
            ctx.say(format!(
                "failed: {}; `cargo xtask diagnose` collects the details",
                [failed, skipped].concat().join(", ")
            ));
            Err(Exit(1).into())
        }
    }

    /// Where to send ingress requests: `--ingress-addr`; on minikube's docker driver on macOS
    /// or Windows, 127.0.0.1 (only `minikube tunnel` reaches the node from there); the
    /// address the ingress controller published in the Ingress's status; `minikube ip`.
    fn ingress_addr(&self, ctx: &Ctx) -> Result<String> {
        if let Some(a) = &self.ingress_addr {
            return Ok(a.clone());
        }
        if cluster::on_minikube(ctx) && std::env::consts::OS != "linux" {
            let (_, profile) = cluster::profile_state(ctx);
            let driver = profile.and_then(|p| p.config).map(|c| c.driver);
            if reached_through_tunnel(std::env::consts::OS, driver.as_deref()) {
                ctx.say(format!(
                    "  (docker driver on {}: the ingress is reached through `minikube -p {} tunnel` on 127.0.0.1; keep it running)",
                    std::env::consts::OS,
                    ctx.global.profile
                ));
                return Ok("127.0.0.1".into());
            }
        }
        if let Some(a) = cluster::ingress_status_address(ctx) {
            return Ok(a);
        }
        if cluster::on_minikube(ctx) {
            return cluster::minikube_ip(ctx)
                .filter(|ip| !ip.is_empty())
                .context(
                    "`minikube ip` gave no address; is the profile running? (`cargo xtask up`)",
                );
        }
        bail!(
            "the Ingress of {} has no address in its status (no ingress controller serves it yet?).\n  fix: pass --ingress-addr HOST[:PORT] (env XTASK_INGRESS_ADDR), where the ingress controller answers",
            kube::RELEASE
        )
    }
}

/// Whether minikube's ingress is reached on 127.0.0.1 through `minikube tunnel` rather than
/// at the node's address: the docker driver outside Linux, where the node's network lives in
/// Docker Desktop's VM and its IP does not route from the host.
fn reached_through_tunnel(os: &str, driver: Option<&str>) -> bool {
    os != "linux" && driver == Some("docker")
}

/// The test hook's pod (`templates/tests/test-health.yaml`).
const TEST_POD: &str = "todo-app-test-health";

/// What a signed-out visitor gets at `/`: a page (200, HTML) with its way in, a link to
/// /sign-in; never a bare redirect.
fn front_door(addr: &str, r: &http::Response) -> Result<()> {
    let html = r
        .header("content-type")
        .is_some_and(|c| c.contains("text/html"));
    if r.status != 200 || !html {
        bail!(
            "GET http://{addr}/ (Host: {HOST}) → HTTP {}{}, {}: {}",
            r.status,
            r.header("location")
                .map(|l| format!(" to {l}"))
                .unwrap_or_default(),
            r.header("content-type").unwrap_or("no content-type"),
            excerpt(&r.body)
        );
    }
    if !r.body.contains("href=\"/sign-in\"") {
        bail!(
            "GET http://{addr}/ (Host: {HOST}) → a page without a link to /sign-in: {}",
            excerpt(&r.body)
        );
    }
    Ok(())
}

fn get(addr: &str, path: &str) -> Result<http::Response> {
    http::request(
        "GET",
        &format!("http://{addr}{path}"),
        &[("Host", HOST)],
        None,
        HTTP_TIMEOUT,
    )
}

fn pods_check(ctx: &Ctx) -> Result<String> {
    let pods = cluster::pods(ctx)?;
    let live: Vec<&kube::Pod> = pods.iter().filter(|p| !p.terminating()).collect();
    if live.is_empty() {
        bail!(
            "no pods with label {} in namespace {}: deploy first (`cargo xtask deploy`)",
            kube::SELECTOR,
            kube::NAMESPACE
        );
    }
    let mut wrong = Vec::new();
    for p in &live {
        if p.status.phase != "Running" || !p.ready() {
            wrong.push(format!(
                "pod {} is {} and {}",
                p.name(),
                p.status.phase,
                if p.ready() { "Ready" } else { "not Ready" }
            ));
        }
        for c in p
            .status
            .container_statuses
            .iter()
            .filter(|c| c.restart_count > 0)
        {
            let why = c
                .last_termination()
                .map(|t| format!(" (last: {t})"))
                .unwrap_or_default();
            wrong.push(format!(
                "pod {} container {} restarted {} time(s){why}",
                p.name(),
                c.name,
                c.restart_count
            ));
        }
    }
    if wrong.is_empty() {
        Ok(format!("{} Running and Ready, 0 restarts", live.len()))
    } else {
        bail!("{}", wrong.join("; "))
    }
}

/// Stops the port-forward however the check ends.
struct Forward(Box<dyn Background>);

impl Drop for Forward {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn backend_check(ctx: &Ctx) -> Result<String> {
    let backend = services::service("backend").port;
    let cmd = cluster::kubectl(ctx).port_forward("svc/backend-service", backend);
    let mut pf = Forward(ctx.spawn(&cmd)?);
    let port = forwarded_port(&mut *pf.0, Duration::from_secs(20))
        .with_context(|| format!("`{}`", cmd.display()))?;
    let mut seen = Vec::new();
    for path in ["/health", "/ready"] {
        let url = format!("http://127.0.0.1:{port}{path}");
        let r = http::request("GET", &url, &[], None, HTTP_TIMEOUT)?;
        if r.status != 200 {
            bail!(
                "GET {path} through the port-forward → HTTP {}: {}",
                r.status,
                excerpt(&r.body)
            );
        }
        seen.push(format!("{path} 200"));
    }
    pf.0.stop();
    Ok(format!(
        "{} (127.0.0.1:{port} → svc/backend-service:{backend})",
        seen.join(", ")
    ))
}

/// Waits for kubectl's `Forwarding from 127.0.0.1:<port> -> <remote>` line.
fn forwarded_port(bg: &mut dyn Background, timeout: Duration) -> Result<u16> {
    let t = Instant::now();
    loop {
        let out = bg.output();
        if let Some(port) = parse_forwarding(&out) {
            return Ok(port);
        }
        if !bg.alive() {
            bail!(
                "kubectl port-forward (pid {}) exited: {}",
                bg.pid(),
                out.trim()
            );
        }
        if t.elapsed() > timeout {
            bail!(
                "no `Forwarding from` line within {}s: {}",
                timeout.as_secs(),
                out.trim()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn parse_forwarding(output: &str) -> Option<u16> {
    output.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Forwarding from 127.0.0.1:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_docker_driver_outside_linux_goes_through_the_tunnel() {
        use super::reached_through_tunnel;
        assert!(reached_through_tunnel("macos", Some("docker")));
        assert!(reached_through_tunnel("windows", Some("docker")));
        assert!(!reached_through_tunnel("linux", Some("docker")));
        // VM drivers give the node an address the host reaches.
        assert!(!reached_through_tunnel("macos", Some("qemu2")));
        assert!(!reached_through_tunnel("macos", None));
    }

    #[test]
    fn reads_the_port_kubectl_chose() {
        let out = "Forwarding from 127.0.0.1:43567 -> 8000\nForwarding from [::1]:43567 -> 8000\n";
        assert_eq!(super::parse_forwarding(out), Some(43567));
        assert_eq!(
            super::parse_forwarding("error: unable to forward port"),
            None
        );
    }
}
