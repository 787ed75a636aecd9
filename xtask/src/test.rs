//! `cargo xtask test`: every suite of the repository as named, timed steps. This is the
//! README's test command and exactly what `.ci/run` runs.
//!
//! With `CI=true` a suite whose tool is missing fails; locally it is skipped with a notice,
//! so a developer without Docker can still run the rest. Timing figures are reported and
//! never fail the run; size gates do.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::ValueEnum as _;

use crate::ctx::{failure_message, Ctx};
use crate::images;
use crate::process::Cmd;
use crate::report::{Outcome, Report, Status};
use crate::tools::Tool;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only these suites (comma-separated or repeated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Suite>,
    /// Skip these suites.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub skip: Vec<Suite>,
    /// Keep going after a failed suite.
    #[arg(long)]
    pub keep_going: bool,
}

/// The suites, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    Xtask,
    Backend,
    Frontend,
    Chart,
    Images,
    E2e,
    Cluster,
}

impl Suite {
    /// The name on the command line and in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Xtask => "xtask",
            Suite::Backend => "backend",
            Suite::Frontend => "frontend",
            Suite::Chart => "chart",
            Suite::Images => "images",
            Suite::E2e => "e2e",
            Suite::Cluster => "cluster",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Suite::Xtask => "cargo fmt, clippy and the xtask's own tests",
            Suite::Backend => "FastAPI + MCP server: pytest on SQLite and PostgreSQL",
            Suite::Frontend => {
                "Next.js: lint, typecheck, unit tests, build, integration with the backend"
            }
            Suite::Chart => "helm lint (Helm 3 and 4), kubernetes-validate, policy, SC-006 fit, schema, hadolint, actionlint, k8s/ drift",
            Suite::Images => {
                "the three images built for real, cached rebuild, size gates, container smoke"
            }
            Suite::E2e => {
                "a real browser (Debian's Chromium) drives sign-up, tasks and chat on the running stack"
            }
            Suite::Cluster => "on a real Kubernetes: server-side validation, deploy through a registry, smoke, stability, redeploys, failure drills, down",
        }
    }
}

enum Step {
    Run(&'static str, Cmd),
    InProcess(&'static str, fn(&Ctx, &mut Report) -> Result<()>),
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let mut report = Report::new();
        let mut results = Vec::new();
        for &suite in Suite::value_variants() {
            if (!self.only.is_empty() && !self.only.contains(&suite)) || self.skip.contains(&suite)
            {
                continue;
            }
            let name = suite.name();
            ctx.say(format!("\n━━ suite {name}: {}", suite.what()));
            let t = Instant::now();
            let outcome = run_suite(ctx, suite, &mut report);
            let took = t.elapsed();
            match &outcome {
                Outcome::Pass(_) => {}
                Outcome::Fail(why) => ctx.say(format!("✗ suite {name} failed: {why}")),
                Outcome::Skip(why) => ctx.say(format!("! suite {name} skipped: {why}")),
            }
            report.task(&format!("suite {name}"), took, outcome.status());
            let failed = matches!(outcome, Outcome::Fail(_));
            results.push((name, outcome.status(), took));
            if failed && !self.keep_going {
                break;
            }
        }
        let path = report.write(&ctx.env, &ctx.target_dir())?;
        ctx.say("\n━━ summary");
        for (name, status, took) in &results {
            let word = match status {
                Status::Ok => "passed".to_string(),
                other => other.to_string(),
            };
            ctx.say(format!("{name:10} {word:8} {:>7.1}s", took.as_secs_f64()));
        }
        let md = report.markdown();
        if !report.gates.is_empty() || !report.images.is_empty() {
            ctx.say(md);
        }
        ctx.say(format!("report: {}", ctx.rel(&path).display()));
        let count = |s: Status| results.iter().filter(|r| r.1 == s).count();
        let (passed, failed, skipped) = (
            count(Status::Ok),
            count(Status::Failed),
            count(Status::Skipped),
        );
        let gates_failed = report.failed_gates().len();
        // The plain closing line CI reads.
        ctx.show(format!(
            "suites: {passed} passed, {failed} failed, {skipped} skipped"
        ));
        if failed > 0 || (gates_failed > 0 && !ctx.global.no_gates) {
            if gates_failed > 0 {
                ctx.say(format!(
                    "{gates_failed} size gate(s) failed (see the report)"
                ));
            }
            return Err(crate::Exit(1).into());
        }
        Ok(())
    }
}

fn run_suite(ctx: &Ctx, suite: Suite, report: &mut Report) -> Outcome {
    let name = suite.name();
    let steps = match plan(ctx, suite) {
        Ok(steps) => steps,
        Err(v) => return v,
    };
    for step in steps {
        let t = Instant::now();
        let (label, result) = match step {
            Step::Run(label, cmd) => {
                ctx.say(format!("── {name}: {label}  ({})", cmd.display()));
                let r = ctx.run(&cmd).and_then(|o| {
                    if o.success() {
                        Ok(())
                    } else {
                        Err(anyhow::anyhow!(failure_message(&cmd, &o)))
                    }
                });
                (label, r)
            }
            Step::InProcess(label, f) => {
                ctx.say(format!("── {name}: {label}"));
                (label, f(ctx, report))
            }
        };
        report.task(
            &format!("{name}: {label}"),
            t.elapsed(),
            Status::of(&result),
        );
        if let Err(e) = result {
            return Outcome::Fail(format!("{label}: {e:#}"));
        }
    }
    Outcome::Pass(String::new())
}

/// A missing tool fails the suite in CI and skips it locally.
fn need(ctx: &Ctx, tool: &Tool, install: &str) -> Result<(), Outcome> {
    if tool.found() {
        return Ok(());
    }
    let msg = format!("`{}` is not installed ({install})", tool.name);
    Err(unavailable(ctx, msg))
}

/// A prerequisite this machine lacks: a failure in CI, which must run every suite; a skip
/// elsewhere.
fn unavailable(ctx: &Ctx, msg: String) -> Outcome {
    if ctx.ci {
        Outcome::Fail(msg)
    } else {
        Outcome::Skip(msg)
    }
}

/// A suite's own project file; missing means a broken checkout, never a reason to skip.
fn present(ctx: &Ctx, rel: &str) -> Result<(), Outcome> {
    if ctx.root.join(rel).exists() {
        Ok(())
    } else {
        Err(Outcome::Fail(format!(
            "{rel} is missing from this checkout (git status / git checkout -- {rel})"
        )))
    }
}

/// A suite's step: `tool args…` in a folder of the repository, bounded by `minutes`.
fn step(ctx: &Ctx, dir: &str, tool: &Tool, args: &[&str], minutes: u64) -> Cmd {
    tool.in_dir(&ctx.root.join(dir), args)
        .timeout(Duration::from_secs(minutes * 60))
}

fn plan(ctx: &Ctx, suite: Suite) -> Result<Vec<Step>, Outcome> {
    let cargo = &ctx.tools.cargo;
    Ok(match suite {
        Suite::Xtask => vec![
            Step::Run(
                "fmt",
                step(ctx, ".", cargo, &["fmt", "--all", "--check"], 5),
            ),
            Step::Run(
                "clippy",
                step(
                    ctx,
                    ".",
                    cargo,
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ],
                    15,
                ),
            ),
            Step::Run(
                "cargo test",
                step(ctx, ".", cargo, &["test", "--workspace"], 20),
            ),
        ],
        Suite::Backend => {
            present(ctx, "backend/pyproject.toml")?;
            need(ctx, &ctx.tools.uv, "`pip install uv`")?;
            vec![
                Step::Run("uv sync", backend_sync(ctx)),
                Step::Run(
                    "pytest",
                    step(
                        ctx,
                        "backend",
                        &ctx.tools.uv,
                        &["run", "--frozen", "pytest", "-q"],
                        15,
                    ),
                ),
            ]
        }
        Suite::Frontend => {
            present(ctx, "frontend/package.json")?;
            need(
                ctx,
                &ctx.tools.npm,
                "Node.js 20 with npm: https://nodejs.org/",
            )?;
            let mut steps = vec![
                Step::Run(
                    "npm ci",
                    step(
                        ctx,
                        "frontend",
                        &ctx.tools.npm,
                        &["ci", "--no-audit", "--no-fund"],
                        15,
                    ),
                ),
                Step::Run(
                    "lint",
                    step(ctx, "frontend", &ctx.tools.npm, &["run", "lint"], 5),
                ),
                Step::Run(
                    "typecheck",
                    step(ctx, "frontend", &ctx.tools.npm, &["run", "typecheck"], 5),
                ),
                Step::Run(
                    "unit tests",
                    step(ctx, "frontend", &ctx.tools.npm, &["test"], 10),
                ),
                Step::Run(
                    "next build",
                    step(ctx, "frontend", &ctx.tools.npm, &["run", "build"], 20),
                ),
            ];
            if ctx.root.join("backend/pyproject.toml").exists() {
                need(ctx, &ctx.tools.uv, "`pip install uv`")?;
                steps.push(Step::Run("backend venv", backend_sync(ctx)));
                steps.push(Step::Run(
                    "integration",
                    step(
                        ctx,
                        "frontend",
                        &ctx.tools.npm,
                        &["run", "test:integration"],
                        10,
                    ),
                ));
            }
            steps
        }
        Suite::Chart => {
            present(ctx, "helm/todo-app/Chart.yaml")?;
            need(
                ctx,
                &ctx.tools.helm,
                "https://helm.sh/docs/intro/install/ or `cargo xtask setup`",
            )?;
            vec![Step::InProcess("lint", |ctx, report| {
                crate::lint::lint(ctx, report)
            })]
        }
        Suite::Images => {
            need(
                ctx,
                &ctx.tools.docker,
                "Docker Engine; in CI `.ci/run` starts one",
            )?;
            if !daemon_answers(ctx) {
                let msg =
                    "the Docker daemon does not answer (start it; in CI `.ci/run` starts one)"
                        .to_string();
                return Err(unavailable(ctx, msg));
            }
            vec![
                Step::InProcess("build all (first)", images_first),
                Step::InProcess("build again: all cached", images_cached),
                Step::InProcess("container smoke: the stack as it ships", container_smoke),
            ]
        }
        Suite::E2e => {
            present(ctx, "e2e/package.json")?;
            need(
                ctx,
                &ctx.tools.npm,
                "Node.js 20 with npm: https://nodejs.org/",
            )?;
            if !std::path::Path::new(&chromium(ctx)).is_file() {
                let msg = format!("Chromium is not installed at {} (`apt-get install chromium`, or set CHROMIUM_PATH)", chromium(ctx));
                return Err(unavailable(ctx, msg));
            }
            vec![
                Step::Run(
                    "npm ci",
                    step(
                        ctx,
                        "e2e",
                        &ctx.tools.npm,
                        &["ci", "--no-audit", "--no-fund"],
                        10,
                    ),
                ),
                Step::InProcess("browser journey on the running stack", e2e_on_stack),
            ]
        }
        Suite::Cluster => {
            need(
                ctx,
                &ctx.tools.kubectl,
                "`cargo xtask setup kubectl`; in CI `.ci/run` installs it",
            )?;
            need(
                ctx,
                &ctx.tools.helm,
                "`cargo xtask setup helm`; in CI `.ci/run` installs it",
            )?;
            need(
                ctx,
                &ctx.tools.docker,
                "Docker Engine; in CI `.ci/run` starts one",
            )?;
            if crate::cluster_suite::Target::from_env(&ctx.env).is_none() {
                let msg = "no cluster named: set XTASK_TEST_CONTEXT (a kube context in $KUBECONFIG) and XTASK_TEST_REGISTRY (a registry it pulls from); in CI `.ci/run` starts one".to_string();
                return Err(unavailable(ctx, msg));
            }
            use crate::cluster_suite as c;
            vec![
                Step::InProcess(
                    "server-side dry run of k8s/ and the chart",
                    c::server_dry_run,
                ),
                Step::InProcess(
                    "deploy: first install through the registry",
                    c::first_deploy,
                ),
                Step::InProcess("smoke (and helm test with Helm 3)", c::smoke),
                Step::InProcess("stability --watch 2m", c::stability),
                Step::InProcess("no-change redeploy", c::no_change_redeploy),
                Step::InProcess("changed redeploy under traffic", c::changed_redeploy),
                Step::InProcess("rolling restart: SC-002 per app pod", c::rolling_restart),
                Step::InProcess("failure drills", c::failure_drills),
                Step::InProcess("a PostgreSQL restart under traffic", c::database_restart),
                Step::InProcess("down --purge", c::down_purge),
                Step::InProcess(
                    "the plan's bare helm install, then an upgrade",
                    c::plan_bare_install,
                ),
                Step::InProcess("the plan's --set form, external database", c::plan_set_form),
                Step::InProcess("the plan's kubectl apply -f k8s/", c::plan_manifests),
            ]
        }
    })
}

fn backend_sync(ctx: &Ctx) -> Cmd {
    step(
        ctx,
        "backend",
        &ctx.tools.uv,
        &["sync", "--frozen", "--extra", "agent"],
        15,
    )
}

fn daemon_answers(ctx: &Ctx) -> bool {
    let docker = crate::tools::Docker {
        tool: &ctx.tools.docker,
        env: &[],
    };
    ctx.run(&docker.version())
        .map(|o| o.success())
        .unwrap_or(false)
}

/// The images suite builds on the host daemon with host networking (CI has no bridge), on
/// the bases named by `XTASK_BASE_PYTHON` / `XTASK_BASE_NODE` when set.
fn images_args() -> images::Args {
    images::Args::host_network()
}

fn images_first(ctx: &Ctx, report: &mut Report) -> Result<()> {
    images_args().measure(ctx, report)
}

fn images_cached(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let mut scratch = Report::new();
    let (_, built) = images_args().build.build(ctx, &mut scratch)?;
    let rebuilt: Vec<_> = built
        .iter()
        .filter(|b| !b.cached)
        .map(|b| b.service.name)
        .collect();
    if !rebuilt.is_empty() {
        bail!(
            "a second build with no change rebuilt {}: the content tag is not stable",
            rebuilt.join(", ")
        );
    }
    for b in built {
        report.task(
            &format!("no-op build {}", b.service.name),
            Duration::from_secs_f64(b.seconds),
            Status::Cached,
        );
    }
    Ok(())
}

/// The three images on the host network against a real PostgreSQL, non-root with a
/// read-only root filesystem: migrations from the backend image, every health endpoint,
/// then the user journey through the frontend container. Cold starts are reported (SC-002
/// at container level), never gated here: timings are noisy on shared machines.
fn container_smoke(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let Some(db) = ctx
        .env
        .non_empty("XTASK_SMOKE_DATABASE_URL")
        .map(str::to_string)
    else {
        let msg = "XTASK_SMOKE_DATABASE_URL is not set (a PostgreSQL URL of a database the smoke may write to)";
        if ctx.ci {
            bail!("{msg}");
        }
        ctx.say(format!("! container smoke skipped: {msg}"));
        return Ok(());
    };
    let mut stack =
        crate::dev::Stack::start(ctx, crate::dev::Mode::Containers, &[], Some(&db), report)?;
    let result = (|| -> Result<()> {
        for (name, took) in stack.wait_healthy(ctx, Duration::from_secs(180))? {
            let mut gate = crate::report::Gate::below(
                "SC-002",
                format!("{name} container: docker run → health 200"),
                took.as_secs_f64(),
                3.0,
                "s",
            );
            gate.enforced = false;
            report.gates.push(gate);
        }
        let journey = crate::flow::run(
            &crate::services::local_url("frontend"),
            &format!(
                "http://localhost:{}",
                crate::services::service("frontend").port
            ),
            None,
            false,
        )?;
        ctx.say(format!("journey ok: signed up, a task through the proxy, one through the chat ({} seen), account deleted", journey.tasks_seen));
        Ok(())
    })();
    stack.stop(ctx);
    result
}

fn chromium(ctx: &Ctx) -> String {
    ctx.env
        .get("CHROMIUM_PATH")
        .unwrap_or("/usr/bin/chromium")
        .to_string()
}

/// Starts the stack the way users run it (in CI the built images against PostgreSQL, what
/// ships; locally `dev --release` unless XTASK_SMOKE_DATABASE_URL names a database), runs
/// the browser tests against it, and always stops it.
fn e2e_on_stack(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let db = ctx
        .env
        .non_empty("XTASK_SMOKE_DATABASE_URL")
        .map(str::to_string);
    let mode = match &db {
        Some(_) => crate::dev::Mode::Containers,
        None if ctx.ci => bail!("XTASK_SMOKE_DATABASE_URL is not set: CI runs the browser tests on the built images against PostgreSQL"),
        None => crate::dev::Mode::Processes { release: true },
    };
    let mut stack = crate::dev::Stack::start(ctx, mode, &[], db.as_deref(), report)?;
    let result = (|| -> Result<()> {
        stack.wait_healthy(ctx, Duration::from_secs(300))?;
        let cmd = step(ctx, "e2e", &ctx.tools.npm, &["test"], 10)
            .env(
                "E2E_BASE_URL",
                format!(
                    "http://localhost:{}",
                    crate::services::service("frontend").port
                ),
            )
            .env("CHROMIUM_PATH", chromium(ctx));
        let t = std::time::Instant::now();
        let r = ctx.run_ok(&cmd).map(|_| ());
        report.task("e2e: browser journey", t.elapsed(), Status::of(&r));
        r.map_err(|e| {
            e.context("browser tests failed; screenshots and console logs are under target/e2e/")
        })
    })();
    stack.stop(ctx);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_named_as_on_the_command_line() {
        for s in Suite::value_variants() {
            let v = s.to_possible_value().unwrap();
            assert_eq!(v.get_name(), s.name());
        }
    }
}
