//! The `cluster` suite of `cargo xtask test`: the deploy, smoke and stability tasks, and
//! the failure drills, run for real against a Kubernetes cluster, in order, each step timed
//! in the report. The xtask runs itself as a user would (`cargo xtask deploy --context …`),
//! so the CLI, its output and its exit codes are what is tested.
//!
//! The cluster is named by the environment (`.ci/run` starts a fresh one):
//! - `XTASK_TEST_CONTEXT`: the kube context (in `$KUBECONFIG`);
//! - `XTASK_TEST_REGISTRY`: the registry the cluster pulls from (`HOST[:PORT][/PREFIX]`);
//! - `XTASK_TEST_POSTGRES_IMAGE` (optional): a local image pushed there for the in-cluster
//!   PostgreSQL, for clusters that cannot pull `postgres:16-alpine`.
//!
//! Figures (SC-001, SC-002 per pod, SC-004, both redeploy times, the failed requests of a
//! rolling update) are reported, never gated: shared machines are noisy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::cluster;
use crate::ctx::{failure_message, Ctx};
use crate::kube;
use crate::process::{Cmd, Output};
use crate::report::{Gate, Report};
use crate::tools::Docker;

/// What the suite needs from the environment; `None` when no cluster is named.
pub struct Target {
    pub context: String,
    pub registry: String,
    pub postgres_image: Option<String>,
}

impl Target {
    pub fn from_env() -> Option<Target> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Target {
            context: var("XTASK_TEST_CONTEXT")?,
            registry: var("XTASK_TEST_REGISTRY")?,
            postgres_image: var("XTASK_TEST_POSTGRES_IMAGE"),
        })
    }

    fn must() -> Result<Target> {
        Target::from_env().context("XTASK_TEST_CONTEXT and XTASK_TEST_REGISTRY name the cluster")
    }

    /// `deploy` as CI runs it: the registry, host networking for builds, gates reported only,
    /// and the in-cluster PostgreSQL from the registry when an image was given.
    fn deploy_args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "deploy",
            "--context",
            &self.context,
            "--registry",
            &self.registry,
            "--network",
            "host",
            "--no-gates",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some((repo, tag)) = self.postgres_ref() {
            a.extend([
                "--set".into(),
                format!("postgresql.image.repository={repo}"),
                "--set".into(),
                format!("postgresql.image.tag={tag}"),
            ]);
        }
        a
    }

    /// Where the PostgreSQL image lives in the registry: `<registry>/<image>` split at its tag.
    fn postgres_ref(&self) -> Option<(String, String)> {
        let image = self.postgres_image.as_deref()?;
        let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
        Some((format!("{}/{repo}", self.registry), tag.to_string()))
    }
}

/// This very binary, run as `cargo xtask …` would run it.
fn xtask(ctx: &Ctx, args: &[String], minutes: u64) -> Cmd {
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "xtask".into());
    Cmd::new(exe)
        .args(args.iter().cloned())
        .cwd(&ctx.root)
        .env("XTASK_ROOT", ctx.root.to_string_lossy())
        .timeout(Duration::from_secs(minutes * 60))
        .output(Output::Stream)
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A value unique to this run of the suite (the changed redeploy's build argument, a
/// missing tag), the same in every step.
fn run_id() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!("{}-{}", now.as_secs(), std::process::id())
    })
}

/// The build argument that makes this run's frontend image differ from the last one.
fn frontend_change() -> [String; 2] {
    [
        "--build-arg".into(),
        format!("frontend:XTASK_SUITE_RUN={}", run_id()),
    ]
}

/// Copies the gates of the report a child run wrote, as reported-only figures.
fn adopt_gates(report: &mut Report, from: &std::path::Path, label: &str) -> Result<Report> {
    let child = Report::read(from)?;
    for g in &child.gates {
        let mut g = g.clone();
        g.name = format!("{label}: {}", g.name);
        g.enforced = false;
        report.gates.push(g);
    }
    Ok(child)
}

/// The live pods' UIDs, to tell whether a redeploy replaced any.
fn pod_uids(cctx: &Ctx) -> Result<Vec<String>> {
    let mut uids: Vec<String> = cluster::pods(cctx)?
        .iter()
        .filter(|p| !p.terminating())
        .map(|p| format!("{}/{}", p.name(), p.metadata.uid))
        .collect();
    uids.sort();
    Ok(uids)
}

/// Waits until every workload is rolled out and every live pod Ready.
fn wait_all_ready(cctx: &Ctx, timeout: Duration) -> Result<()> {
    let t = Instant::now();
    let mut last = String::new();
    while t.elapsed() < timeout {
        match cluster::snapshot(cctx) {
            Ok(s) if s.all_ready() => return Ok(()),
            Ok(s) => {
                last = s
                    .live_pods()
                    .filter(|p| !p.ready())
                    .map(|p| p.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            Err(e) => last = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    bail!(
        "the release was not all Ready within {}s (not Ready: {last})",
        timeout.as_secs()
    )
}

/// Where the ingress answers: the address in the Ingress's status.
fn ingress(cctx: &Ctx) -> String {
    cluster::ingress_status_address(cctx).unwrap_or_else(|| "127.0.0.1".into())
}

fn health_via_ingress(addr: &str) -> Result<()> {
    let r = crate::http::request(
        "GET",
        &format!("http://{addr}/api/health"),
        &[("Host", "todo.local")],
        None,
        Duration::from_secs(5),
    )?;
    if r.status != 200 {
        bail!("GET /api/health through the ingress → HTTP {}", r.status);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The steps, in the order they run.

/// The API server's own validation and admission of `k8s/` (the secrets template filled in)
/// and of the chart's rendered manifests: `kubectl apply --dry-run=server`.
pub fn server_dry_run(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let cctx = ctx.for_context(&t.context);
    let k = cluster::kubectl(&cctx);
    // A server-side dry run cannot see a namespace it would create, so create it first.
    let ns = ctx.run(&k.create_namespace())?;
    if !ns.success() && !ns.stderr.contains("AlreadyExists") {
        bail!("{}", failure_message(&k.create_namespace(), &ns));
    }
    let dir = tempfile_dir(ctx, "server-dry-run")?;
    for e in std::fs::read_dir(ctx.root.join("k8s"))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "secrets.yaml" {
            std::fs::copy(e.path(), dir.join(&name))?;
        }
    }
    let template = std::fs::read_to_string(ctx.root.join("k8s/secrets.yaml.template"))?;
    let filled = fill_secrets_template(&template);
    std::fs::write(dir.join("secrets.yaml"), filled)?;
    let started = Instant::now();
    let out = ctx.run_ok(&k.apply_server_dry_run(&dir))?;
    report.task("cluster: server dry run of k8s/", started.elapsed(), "ok");
    ctx.say(format!(
        "k8s/: {} objects accepted by the API server",
        out.stdout
            .lines()
            .filter(|l| l.contains("(server dry run)"))
            .count()
    ));
    for (label, extra) in [
        ("chart defaults", Vec::<String>::new()),
        (
            "values-prod.yaml",
            vec!["-f".into(), "helm/todo-app/values-prod.yaml".into()],
        ),
    ] {
        if label == "values-prod.yaml" && !ctx.root.join("helm/todo-app/values-prod.yaml").is_file()
        {
            continue;
        }
        let mut args = strings(&[
            "--set",
            "secrets.betterAuthSecret=dry-run-better-auth-secret-0123456789abcdef",
            "--set",
            "secrets.mcpServiceToken=dry-run-mcp-service-token",
            "--set",
            "secrets.postgresPassword=dry-run-postgres-password",
        ]);
        args.extend(extra);
        let docs = crate::render::template(ctx, &args)?;
        let file = dir.join(format!("chart-{}.yaml", label.replace(' ', "-")));
        std::fs::write(
            &file,
            docs.iter()
                .map(|d| d.text.as_str())
                .collect::<Vec<_>>()
                .join("\n---\n"),
        )?;
        let started = Instant::now();
        let out = ctx.run_ok(&k.apply_server_dry_run(&file))?;
        report.task(
            &format!("cluster: server dry run of the chart ({label})"),
            started.elapsed(),
            "ok",
        );
        ctx.say(format!(
            "chart ({label}): {} objects accepted by the API server",
            out.stdout
                .lines()
                .filter(|l| l.contains("(server dry run)"))
                .count()
        ));
    }
    Ok(())
}

fn tempfile_dir(ctx: &Ctx, name: &str) -> Result<std::path::PathBuf> {
    let dir = ctx.target_dir().join("cluster-suite").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `k8s/secrets.yaml.template` with each CHANGE-ME value replaced by a throwaway one of the
/// same kind (the PostgreSQL password stays consistent inside DATABASE_URL).
pub fn fill_secrets_template(template: &str) -> String {
    template
        .replace("CHANGE-ME-postgres-password", "suitepostgrespassword1")
        .replace(
            "CHANGE-ME-better-auth-secret-of-32-chars-or-more",
            "suite-better-auth-secret-0123456789abcdef",
        )
        .replace("CHANGE-ME-mcp-service-token", "suite-mcp-service-token-1")
}

/// The first install through the registry, with the in-cluster PostgreSQL pushed there.
pub fn first_deploy(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    if let (Some(local), Some((repo, tag))) = (&t.postgres_image, t.postgres_ref()) {
        let docker = Docker {
            tool: &ctx.tools.docker,
            env: &[],
        };
        let remote = format!("{repo}:{tag}");
        ctx.run_ok(&docker.tag(local, &remote))?;
        ctx.run_ok(&docker.push(&remote))?;
        ctx.say(format!(
            "{local} pushed as {remote} for the in-cluster PostgreSQL"
        ));
    }
    let started = Instant::now();
    ctx.run_ok(&xtask(ctx, &t.deploy_args(), 20))?;
    report.task("cluster: first deploy", started.elapsed(), "ok");
    let child = adopt_gates(report, &ctx.target_dir(), "first install")?;
    let pushed = child.tasks.iter().filter(|t| t.status == "pushed").count();
    ctx.say(format!("first install: {pushed} image(s) pushed"));
    Ok(())
}

/// `smoke` with every check passing, then `helm test` through Helm 3 as well.
pub fn smoke(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let started = Instant::now();
    ctx.run_ok(&xtask(
        ctx,
        &strings(&["smoke", "--context", &t.context]),
        10,
    ))?;
    report.task("cluster: smoke (Helm 4)", started.elapsed(), "ok");
    if !ctx.tools.helm3.found() {
        let msg = "no Helm 3 (XTASK_HELM3) for the Helm 3 `helm test`";
        if ctx.ci {
            bail!("{msg}");
        }
        ctx.say(format!("! skipped: {msg}"));
        return Ok(());
    }
    let cctx = ctx.for_context(&t.context);
    let helm3 = crate::tools::HelmRelease {
        tool: &ctx.tools.helm3,
        ..cluster::release(&cctx)
    };
    let started = Instant::now();
    ctx.run_ok(&helm3.test(Duration::from_secs(120)))?;
    report.task("cluster: helm test (Helm 3)", started.elapsed(), "ok");
    Ok(())
}

/// SC-004 over two minutes.
pub fn stability(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let started = Instant::now();
    ctx.run_ok(&xtask(
        ctx,
        &strings(&["stability", "--context", &t.context, "--watch", "2m"]),
        5,
    ))?;
    report.task("cluster: stability --watch 2m", started.elapsed(), "ok");
    adopt_gates(report, &ctx.target_dir().join("stability"), "stability")?;
    Ok(())
}

/// A second deploy with nothing changed: nothing built, nothing pushed, no pod replaced.
pub fn no_change_redeploy(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let cctx = ctx.for_context(&t.context);
    let before = pod_uids(&cctx)?;
    let started = Instant::now();
    ctx.run_ok(&xtask(ctx, &t.deploy_args(), 10))?;
    let took = started.elapsed();
    let child = Report::read(&ctx.target_dir())?;
    let built: Vec<&str> = child
        .images
        .iter()
        .filter(|i| !i.cached)
        .map(|i| i.service.as_str())
        .collect();
    let pushed: Vec<&str> = child
        .tasks
        .iter()
        .filter(|t| t.status == "pushed")
        .map(|t| t.name.as_str())
        .collect();
    let after = pod_uids(&cctx)?;
    if !built.is_empty() || !pushed.is_empty() {
        bail!(
            "a deploy with no change built [{}] and pushed [{}]",
            built.join(", "),
            pushed.join(", ")
        );
    }
    if before != after {
        bail!("a deploy with no change replaced pods:\n  before {before:?}\n  after  {after:?}");
    }
    report.task("cluster: no-change redeploy", took, "ok");
    let mut g = Gate::below(
        "redeploy",
        "no-change redeploy (nothing built, pushed or replaced)",
        (took.as_secs_f64() * 10.0).round() / 10.0,
        60.0,
        "s",
    );
    g.enforced = false;
    report.gates.push(g);
    ctx.say(format!(
        "no change: nothing built, nothing pushed, {} pods untouched, {:.1}s",
        after.len(),
        took.as_secs_f64()
    ));
    Ok(())
}

/// The frontend gets a per-run build argument (it lands in its image's content-digest label,
/// so the image is new), so only the frontend is rebuilt and pushed; a bounded request loop
/// against the ingress runs during its rolling update and must see no failed request.
pub fn changed_redeploy(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let cctx = ctx.for_context(&t.context);
    let mut args = t.deploy_args();
    args.extend(frontend_change());
    let traffic = Traffic::start(ingress(&cctx));
    let started = Instant::now();
    let out = ctx.run(&xtask(ctx, &args, 15));
    let took = started.elapsed();
    // Keep the loop running a little past the rollout: the old pods are still terminating.
    std::thread::sleep(Duration::from_secs(5));
    let (sent, failed, errors) = traffic.stop();
    let out = out?;
    if !out.success() {
        bail!("{}", failure_message(&xtask(ctx, &args, 15), &out));
    }
    let child = Report::read(&ctx.target_dir())?;
    let rebuilt: Vec<&str> = child
        .images
        .iter()
        .filter(|i| !i.cached)
        .map(|i| i.service.as_str())
        .collect();
    let pushed: Vec<&str> = child
        .tasks
        .iter()
        .filter(|t| t.status == "pushed")
        .map(|t| t.name.trim_start_matches("deliver "))
        .collect();
    report.task("cluster: changed redeploy (frontend)", took, "ok");
    let mut g = Gate::at_most(
        "rollout",
        format!("failed requests during the frontend's rolling update (of {sent})"),
        failed as f64,
        0.0,
        "",
    );
    g.enforced = false;
    report.gates.push(g);
    ctx.say(format!(
        "changed frontend: rebuilt [{}], pushed [{}], {:.1}s; {sent} requests during the rollout, {failed} failed",
        rebuilt.join(", "),
        pushed.join(", "),
        took.as_secs_f64()
    ));
    if rebuilt != ["frontend"] || pushed != ["frontend"] {
        bail!(
            "only the frontend should be rebuilt and pushed: rebuilt [{}], pushed [{}]",
            rebuilt.join(", "),
            pushed.join(", ")
        );
    }
    if failed > 0 {
        bail!("{failed} of {sent} requests failed during the rolling update: {errors:?}");
    }
    Ok(())
}

/// A bounded request loop against the ingress: at most 6,000 requests over at most ten
/// minutes, one every 100 ms, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    result: Arc<Mutex<(u64, u64, Vec<String>)>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(addr: String) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let result = Arc::new(Mutex::new((0u64, 0u64, Vec::new())));
        let (s, r) = (stop.clone(), result.clone());
        let handle = std::thread::spawn(move || {
            let t = Instant::now();
            let mut n = 0;
            while !s.load(Ordering::Relaxed) && n < 6000 && t.elapsed() < Duration::from_secs(600) {
                n += 1;
                let path = if n % 2 == 0 { "/api/health" } else { "/" };
                let outcome = crate::http::request(
                    "GET",
                    &format!("http://{addr}{path}"),
                    &[("Host", "todo.local")],
                    None,
                    Duration::from_secs(10),
                );
                let mut g = r.lock().unwrap_or_else(|e| e.into_inner());
                g.0 += 1;
                let err = match outcome {
                    Ok(resp) if resp.status == 200 => None,
                    Ok(resp) => Some(format!("GET {path} → HTTP {}", resp.status)),
                    Err(e) => Some(format!("GET {path}: {e:#}")),
                };
                if let Some(e) = err {
                    g.1 += 1;
                    if g.2.len() < 5 {
                        g.2.push(e);
                    }
                }
                drop(g);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Traffic {
            stop,
            result,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let g = self.result.lock().unwrap_or_else(|e| e.into_inner());
        (g.0, g.1, g.2.clone())
    }
}

/// One failure drill: a deploy that must fail, name its cause with the evidence, roll back to
/// the last healthy revision and leave the app serving.
struct Drill {
    name: &'static str,
    /// What the deploy's output must say.
    expect: &'static [&'static str],
    set: Vec<String>,
}

fn drills(run: &str) -> Vec<Drill> {
    // Each is named by what the deploy's watch must say about it.
    vec![
        Drill {
            name: "an image the registry does not have",
            expect: &["todo-backend:absent-", "rolled back to revision"],
            set: vec![format!("images.backend.tag=absent-{run}")],
        },
        Drill {
            name: "a container that crashes at start (a bad LOG_LEVEL)",
            expect: &[
                "CrashLoopBackOff",
                "Unknown level",
                "rolled back to revision",
            ],
            set: strings(&[
                "extraEnv.mcp[0].name=LOG_LEVEL",
                "extraEnv.mcp[0].value=bogus",
            ]),
        },
        Drill {
            name: "a pod that cannot be scheduled (requests beyond the node)",
            expect: &[
                "cannot be scheduled",
                "Insufficient cpu",
                "rolled back to revision",
            ],
            set: strings(&[
                "resources.backend.requests.cpu=64",
                "resources.backend.limits.cpu=64",
            ]),
        },
        Drill {
            name: "a readiness probe that keeps failing",
            expect: &[
                "runs but is not Ready",
                "Readiness probe failed",
                "rolled back to revision",
            ],
            set: strings(&["probes.readinessPath.backend=/no-such-endpoint"]),
        },
    ]
}

pub fn failure_drills(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let cctx = ctx.for_context(&t.context);
    let addr = ingress(&cctx);
    let mut failures = Vec::new();
    for d in drills(run_id()) {
        ctx.say(format!("── drill: {}", d.name));
        let mut args = t.deploy_args();
        // The frontend as the changed redeploy left it, so only the drill's value changes.
        args.extend(frontend_change());
        args.extend(["--timeout".into(), "2m".into()]);
        for s in &d.set {
            args.extend(["--set".into(), s.clone()]);
        }
        let started = Instant::now();
        let out = ctx.run(&xtask(ctx, &args, 6))?;
        let took = started.elapsed();
        let said = format!("{}\n{}", out.stdout, out.stderr);
        let mut wrong = Vec::new();
        if out.success() {
            wrong.push("the deploy succeeded".to_string());
        }
        for e in d.expect {
            if !said.contains(e) {
                wrong.push(format!("the output does not say {e:?}"));
            }
        }
        let recovered =
            wait_all_ready(&cctx, Duration::from_secs(120)).and_then(|_| health_via_ingress(&addr));
        if let Err(e) = &recovered {
            wrong.push(format!("the app is not serving after the rollback: {e:#}"));
        }
        let status = if wrong.is_empty() { "ok" } else { "failed" };
        report.task(&format!("drill: {}", d.name), took, status);
        let mut g = Gate::below(
            "drill",
            format!("{}: failure named and rolled back", d.name),
            took.as_secs_f64().round(),
            120.0,
            "s",
        );
        g.enforced = false;
        report.gates.push(g);
        if wrong.is_empty() {
            ctx.say(format!(
                "✓ drill \"{}\": named, rolled back, still serving ({:.0}s)",
                d.name,
                took.as_secs_f64()
            ));
        } else {
            failures.push(format!("{}: {}", d.name, wrong.join("; ")));
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

/// `down --purge`: the release and the namespace are gone.
pub fn down_purge(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must()?;
    let started = Instant::now();
    ctx.run_ok(&xtask(
        ctx,
        &strings(&["down", "--context", &t.context, "--purge", "--yes"]),
        10,
    ))?;
    report.task("cluster: down --purge", started.elapsed(), "ok");
    let cctx = ctx.for_context(&t.context);
    let ns = ctx.run(&cluster::kubectl(&cctx).get_namespace())?;
    if ns.success() {
        bail!(
            "namespace {} still exists after down --purge",
            kube::NAMESPACE
        );
    }
    let history = ctx.run(&cluster::release(&cctx).history())?;
    if history.success() {
        bail!("release {} still exists after down --purge", kube::RELEASE);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_filled_consistently() {
        let t = "  DATABASE_URL: \"postgresql://todo:CHANGE-ME-postgres-password@postgres-service:5432/todo\"\n  POSTGRES_PASSWORD: \"CHANGE-ME-postgres-password\"\n  BETTER_AUTH_SECRET: \"CHANGE-ME-better-auth-secret-of-32-chars-or-more\"\n  MCP_SERVICE_TOKEN: \"CHANGE-ME-mcp-service-token\"\n";
        let f = fill_secrets_template(t);
        assert!(!f.contains("CHANGE-ME"), "{f}");
        assert!(f.contains("todo:suitepostgrespassword1@"));
        assert!(f.contains("POSTGRES_PASSWORD: \"suitepostgrespassword1\""));
    }

    #[test]
    fn the_postgres_image_is_taken_from_the_registry() {
        let t = Target {
            context: "c".into(),
            registry: "localhost:5000".into(),
            postgres_image: Some("ci-base/postgres:15".into()),
        };
        assert_eq!(
            t.postgres_ref(),
            Some(("localhost:5000/ci-base/postgres".into(), "15".into()))
        );
        let a = t.deploy_args().join(" ");
        assert!(a.contains("--set postgresql.image.repository=localhost:5000/ci-base/postgres --set postgresql.image.tag=15"), "{a}");
    }
}
