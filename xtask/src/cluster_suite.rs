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
use crate::report::{Gate, Report, Status};
use std::collections::BTreeMap;

use crate::tools::{Docker, Helm, Kubectl, KubectlIn};

/// What the suite needs from the environment; `None` when no cluster is named.
pub struct Target {
    pub context: String,
    pub registry: String,
    pub postgres_image: Option<String>,
}

impl Target {
    pub fn from_env(env: &crate::ctx::Env) -> Option<Target> {
        let var = |k: &str| env.non_empty(k).map(str::to_string);
        Some(Target {
            context: var("XTASK_TEST_CONTEXT")?,
            registry: var("XTASK_TEST_REGISTRY")?,
            postgres_image: var("XTASK_TEST_POSTGRES_IMAGE"),
        })
    }

    fn must(env: &crate::ctx::Env) -> Result<Target> {
        Target::from_env(env).context("XTASK_TEST_CONTEXT and XTASK_TEST_REGISTRY name the cluster")
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
pub fn xtask(ctx: &Ctx, args: &[String], minutes: u64) -> Cmd {
    crate::tools::project_program(std::path::Path::new(&own_binary()))
        .args(args.iter().cloned())
        .cwd(&ctx.root)
        .env("XTASK_ROOT", ctx.root.to_string_lossy())
        .timeout(Duration::from_secs(minutes * 60))
        .output(Output::Stream)
}

/// The path of the running xtask. The `xtask` suite's own `cargo test` rebuilds the binary
/// while this run goes on, so Linux names the running one "<path> (deleted)": the fresh
/// binary at the same path is the same source.
pub fn own_binary() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "xtask".into());
    live_path(&exe).to_string()
}

fn live_path(exe: &str) -> &str {
    exe.strip_suffix(" (deleted)").unwrap_or(exe)
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
pub fn pod_uids(cctx: &Ctx) -> Result<Vec<String>> {
    let mut uids: Vec<String> = cluster::pods(cctx)?
        .iter()
        .filter(|p| !p.terminating())
        .map(|p| format!("{}/{}", p.name(), p.metadata.uid))
        .collect();
    uids.sort();
    Ok(uids)
}

/// Waits until every workload of the release is rolled out and every live pod Ready.
fn wait_all_ready(cctx: &Ctx, timeout: Duration) -> Result<()> {
    wait_ready_in(cctx, &cluster::kubectl(cctx), timeout).map(|_| ())
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
    let t = Target::must(&ctx.env)?;
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
    report.task(
        "cluster: server dry run of k8s/",
        started.elapsed(),
        Status::Ok,
    );
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
            Status::Ok,
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
    let t = Target::must(&ctx.env)?;
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
    report.task("cluster: first deploy", started.elapsed(), Status::Ok);
    let child = adopt_gates(report, &ctx.target_dir(), "first install")?;
    let pushed = child
        .tasks
        .iter()
        .filter(|t| t.status == Status::Pushed)
        .count();
    ctx.say(format!("first install: {pushed} image(s) pushed"));
    Ok(())
}

/// `smoke` with every check passing, then `helm test` through Helm 3 as well.
pub fn smoke(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    let started = Instant::now();
    ctx.run_ok(&xtask(
        ctx,
        &strings(&["smoke", "--context", &t.context]),
        10,
    ))?;
    report.task("cluster: smoke (Helm 4)", started.elapsed(), Status::Ok);
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
    report.task("cluster: helm test (Helm 3)", started.elapsed(), Status::Ok);
    Ok(())
}

/// SC-004 over two minutes.
pub fn stability(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    let started = Instant::now();
    ctx.run_ok(&xtask(
        ctx,
        &strings(&["stability", "--context", &t.context, "--watch", "2m"]),
        5,
    ))?;
    report.task(
        "cluster: stability --watch 2m",
        started.elapsed(),
        Status::Ok,
    );
    adopt_gates(report, &ctx.target_dir().join("stability"), "stability")?;
    Ok(())
}

/// The services a deploy's report says it built and pushed.
pub fn built_and_pushed(child: &Report) -> (Vec<String>, Vec<String>) {
    let built = child
        .images
        .iter()
        .filter(|i| !i.cached)
        .map(|i| i.service.clone())
        .collect();
    let pushed = child
        .tasks
        .iter()
        .filter(|t| t.status == Status::Pushed)
        .map(|t| t.name.trim_start_matches("deliver ").to_string())
        .collect();
    (built, pushed)
}

/// A second deploy with nothing changed: nothing built, nothing pushed, no pod replaced.
pub fn no_change_redeploy(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    let cctx = ctx.for_context(&t.context);
    let before = pod_uids(&cctx)?;
    let started = Instant::now();
    ctx.run_ok(&xtask(ctx, &t.deploy_args(), 10))?;
    let took = started.elapsed();
    let (built, pushed) = built_and_pushed(&Report::read(&ctx.target_dir())?);
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
    report.task("cluster: no-change redeploy", took, Status::Ok);
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
    let t = Target::must(&ctx.env)?;
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
    let (rebuilt, pushed) = built_and_pushed(&Report::read(&ctx.target_dir())?);
    report.task("cluster: changed redeploy (frontend)", took, Status::Ok);
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

/// SC-002 where it is defined, a rolling update of the three app Deployments on an idle node
/// (`kubectl rollout restart`, one Deployment at a time, so that no pod's start competes with
/// its siblings' for the node's CPU): each new pod's container start → Ready from Kubernetes'
/// own timestamps (whole seconds), and where the time goes, from this side's polls every
/// 250 ms: container running → started (the startup probe passed, when there is one) → Ready.
pub fn rolling_restart(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    let cctx = ctx.for_context(&t.context);
    let started = Instant::now();
    let pods = restart_and_time(ctx, &cctx)?;
    report.task(
        "cluster: rolling restart of the app pods",
        started.elapsed(),
        Status::Ok,
    );
    for p in pods {
        let Some(secs) = p.started_to_ready else {
            continue;
        };
        let mut g = Gate::below(
            "SC-002",
            format!("rolling update {} (started → Ready)", p.name),
            secs as f64,
            3.0,
            "s",
        );
        g.enforced = false;
        report.gates.push(g);
        let split = p
            .polled
            .map(|(probe, ready)| {
                format!("running → started {probe:.2}s, → Ready {ready:.2}s (polled)")
            })
            .unwrap_or_else(|| "not caught by the polls".into());
        ctx.say(format!(
            "SC-002 {}: {secs} s started → Ready; {split}",
            p.name
        ));
    }
    Ok(())
}

/// How one pod of a rolling restart came up.
#[derive(Clone, Debug)]
pub struct PodStart {
    pub name: String,
    pub component: String,
    /// Created → container started, from Kubernetes' timestamps (whole seconds).
    pub created_to_started: Option<i64>,
    /// Container started → Ready (SC-002), from Kubernetes' timestamps (whole seconds).
    pub started_to_ready: Option<i64>,
    /// From this side's polls every 250 ms: running → started (the startup probe passed, when
    /// there is one), → Ready.
    pub polled: Option<(f64, f64)>,
}

/// `kubectl rollout restart` of each app Deployment in turn (the next once the last is rolled
/// out), then each new pod's start as Kubernetes and this side's polls saw it.
pub fn restart_and_time(ctx: &Ctx, cctx: &Ctx) -> Result<Vec<PodStart>> {
    let mut out = Vec::new();
    for service in crate::services::SERVICES {
        out.extend(restart_one_and_time(ctx, cctx, service.name)?);
    }
    Ok(out)
}

/// The rolling restart of the app Deployment of `component`, timed as [`restart_and_time`] says.
fn restart_one_and_time(ctx: &Ctx, cctx: &Ctx, component: &str) -> Result<Vec<PodStart>> {
    let before = pod_uids(cctx)?;
    let is_new = |p: &kube::Pod| {
        p.metadata.component() == component && !before.iter().any(|b| b.ends_with(&p.metadata.uid))
    };
    let k = cluster::kubectl(cctx);
    let started = Instant::now();
    ctx.run_ok(&k.rollout_restart(&format!("{},component={component}", kube::SELECTOR)))?;
    // pod → (running, started, ready) as first seen here.
    let mut seen: BTreeMap<String, [Option<Instant>; 3]> = BTreeMap::new();
    loop {
        let snap = cluster::snapshot(cctx)?;
        let now = Instant::now();
        for p in snap.live_pods().filter(|p| is_new(p)) {
            let e = seen.entry(p.name().to_string()).or_default();
            let c = p.status.container_statuses.first();
            let marks = [
                c.is_some_and(|c| c.state.running.is_some()),
                c.is_some_and(|c| c.started == Some(true)),
                p.ready(),
            ];
            for (slot, hit) in e.iter_mut().zip(marks) {
                if hit && slot.is_none() {
                    *slot = Some(now);
                }
            }
        }
        let want = snap
            .workloads
            .iter()
            .find(|w| w.kind == "Deployment" && w.metadata.component() == component)
            .map_or(1, |w| w.spec.replicas.unwrap_or(1)) as usize;
        let new_pods = snap.live_pods().filter(|p| is_new(p)).count();
        if snap.all_ready() && new_pods >= want {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the rolling restart of the {component} did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut out = Vec::new();
    for p in cluster::pods(cctx)?
        .iter()
        .filter(|p| !p.terminating() && is_new(p))
    {
        let polled = seen.get(p.name()).and_then(|[run, start, ready]| {
            let (run, start, ready) = ((*run)?, (*start)?, (*ready)?);
            Some((
                start.duration_since(run).as_secs_f64(),
                ready.duration_since(start).as_secs_f64(),
            ))
        });
        out.push(PodStart {
            name: p.name().to_string(),
            component: p.metadata.component().to_string(),
            created_to_started: p.created_to_started_seconds(),
            started_to_ready: p.cold_start_seconds(),
            polled,
        });
    }
    Ok(out)
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
            name: "a container that crashes at start (a bad MCP_TIMEOUT_SECONDS)",
            expect: &[
                "is crashing",
                "mcp_timeout_seconds",
                "rolled back to revision",
            ],
            set: strings(&[
                "extraEnv.mcp[0].name=MCP_TIMEOUT_SECONDS",
                "extraEnv.mcp[0].value=soon",
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
    let t = Target::must(&ctx.env)?;
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
        let status = if wrong.is_empty() {
            Status::Ok
        } else {
            Status::Failed
        };
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

/// A database restart is not an app restart: PostgreSQL's pod is deleted under a bounded
/// request loop through the ingress. No app container may restart, and once everything is
/// Ready again, no request may fail.
pub fn database_restart(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    let cctx = ctx.for_context(&t.context);
    let restarts = |pods: &[kube::Pod]| -> u32 {
        pods.iter()
            .filter(|p| p.metadata.component() != "postgres")
            .map(|p| p.restarts())
            .sum()
    };
    let before = cluster::pods(&cctx)?;
    let pg = before
        .iter()
        .find(|p| p.metadata.component() == "postgres" && !p.terminating())
        .context("no PostgreSQL pod in the release")?
        .name()
        .to_string();
    let addr = ingress(&cctx);
    let traffic = Traffic::start(addr.clone());
    let started = Instant::now();
    ctx.run_ok(&cluster::kubectl(&cctx).delete_pod(&pg))?;
    // Gone, then back: wait until the new PostgreSQL pod and everything else is Ready.
    std::thread::sleep(Duration::from_secs(3));
    wait_all_ready(&cctx, Duration::from_secs(180))?;
    let back = started.elapsed();
    let (during_sent, during_failed, _) = traffic.stop();
    // After recovery (10 s is the budget to recover in): a short loop that must not lose a
    // single request, and users whose every request needs the database.
    std::thread::sleep(Duration::from_secs(10));
    let after = Traffic::start(addr.clone());
    let mut journeys = Vec::new();
    for _ in 0..3 {
        journeys.push(
            journey_via_ingress(&addr, "db-restart").and_then(|s| crate::flow::delete_account(&s)),
        );
    }
    let (sent, failed, errors) = after.stop();
    if let Some(Err(e)) = journeys.into_iter().find(|j| j.is_err()) {
        return Err(e.context("a user's journey after PostgreSQL came back"));
    }
    let now = cluster::pods(&cctx)?;
    let restarted = restarts(&now).saturating_sub(restarts(&before));
    report.task(
        "drill: PostgreSQL restarted under traffic",
        back,
        Status::Ok,
    );
    for (name, value) in [
        (
            "app container restarts while PostgreSQL restarted",
            restarted as f64,
        ),
        (
            &*format!("failed requests after recovery (of {sent})"),
            failed as f64,
        ),
    ] {
        let mut g = Gate::at_most("db-restart", name, value, 0.0, "");
        g.enforced = false;
        report.gates.push(g);
    }
    ctx.say(format!(
        "PostgreSQL pod {pg} deleted: all Ready again after {:.0}s; {during_failed} of {during_sent} requests failed meanwhile; {restarted} app container restarts; after recovery {failed} of {sent} failed",
        back.as_secs_f64()
    ));
    if restarted > 0 {
        bail!("{restarted} app container restart(s) while PostgreSQL restarted: a database restart must not restart the apps");
    }
    if failed > 0 {
        bail!("{failed} of {sent} requests failed after recovery: {errors:?}");
    }
    Ok(())
}

/// `down --purge`: the release and the namespace are gone.
pub fn down_purge(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    let started = Instant::now();
    ctx.run_ok(&xtask(
        ctx,
        &strings(&["down", "--context", &t.context, "--purge", "--yes"]),
        10,
    ))?;
    report.task("cluster: down --purge", started.elapsed(), Status::Ok);
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

// ---------------------------------------------------------------------------------------
// The deployment plan's own commands, as a user types them, on the cluster `down --purge`
// left empty: `helm install todo-app ./helm/todo-app` (bare, then an upgrade that must keep
// the generated secrets), its `--set` form against an external database, and the plain
// manifests with `kubectl apply -f k8s/`. Only the image values this cluster needs are added,
// with `-f`.

/// The namespace the plan's helm commands land in: the kubeconfig's current one.
const PLAN_NAMESPACE: &str = "default";

/// The plan's commands run in the current context: it must be the suite's cluster.
fn current_context_is(ctx: &Ctx, t: &Target) -> Result<()> {
    let k = Kubectl {
        tool: &ctx.tools.kubectl,
    };
    let out = ctx.run_ok(&k.current_context())?;
    if out.stdout.trim() != t.context {
        bail!(
            "the kubeconfig's current context is `{}`, not `{}`: the plan's commands run in the current context (`kubectl config use-context {}`)",
            out.stdout.trim(),
            t.context,
            t.context
        );
    }
    Ok(())
}

/// `-f` values naming the images as this cluster finds them: the registry's, with the tags
/// `deploy` pushed (the content tags of the tree as it is), and the stand-in PostgreSQL.
fn plan_image_values(ctx: &Ctx, t: &Target) -> Result<std::path::PathBuf> {
    let inputs = crate::services::BuildInputs::new(&ctx.env, &[], &[])?;
    let mut yaml = String::from("images:\n");
    for s in crate::services::SERVICES {
        let d = crate::services::content_digest(&ctx.root, &s, &inputs)?
            .with_context(|| format!("{} has no Dockerfile", s.name))?;
        yaml.push_str(&format!(
            "  {}:\n    repository: {}/{}\n    tag: \"{}\"\n    pullPolicy: IfNotPresent\n",
            s.name, t.registry, s.repository, d.tag
        ));
    }
    if let Some((repo, tag)) = t.postgres_ref() {
        yaml.push_str(&format!(
            "postgresql:\n  image:\n    repository: {repo}\n    tag: \"{tag}\"\n"
        ));
    }
    let dir = tempfile_dir(ctx, "plan")?;
    let path = dir.join("images.yaml");
    std::fs::write(&path, yaml)?;
    Ok(path)
}

fn kubectl_in<'a>(ctx: &'a Ctx, t: &'a Target, namespace: &'a str) -> KubectlIn<'a> {
    KubectlIn {
        tool: &ctx.tools.kubectl,
        context: &t.context,
        namespace,
    }
}

/// Polls until every workload with the chart's label is rolled out and every pod Ready.
fn wait_ready_in(ctx: &Ctx, k: &KubectlIn, timeout: Duration) -> Result<Duration> {
    let t = Instant::now();
    let mut last = String::new();
    while t.elapsed() < timeout {
        match ctx
            .run(&k.get_workloads_and_pods(kube::SELECTOR))
            .and_then(|o| kube::Snapshot::parse(&o.stdout))
        {
            Ok(s) if s.all_ready() && s.live_pods().count() > 0 => return Ok(t.elapsed()),
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
        "not all Ready in namespace {} within {}s (not Ready: {last})",
        k.namespace,
        timeout.as_secs()
    )
}

/// The Secret's decoded values, compared by digest and never printed.
fn secret_values(ctx: &Ctx, t: &Target, namespace: &str) -> Result<BTreeMap<String, String>> {
    let k = Kubectl {
        tool: &ctx.tools.kubectl,
    };
    let out = ctx.run_ok(&k.secret_json(&t.context, namespace, "todo-app-secrets"))?;
    let v: serde_json::Value = serde_json::from_str(&out.stdout)?;
    let mut data = BTreeMap::new();
    for (key, b64) in v["data"].as_object().context("the Secret has no data")? {
        let raw = base64_decode(b64.as_str().unwrap_or(""))
            .with_context(|| format!("the Secret's {key} is not base64"))?;
        let value = String::from_utf8_lossy(&raw).into_owned();
        crate::process::register_secret(&value);
        data.insert(key.clone(), value);
    }
    Ok(data)
}

/// A Secret's `data` value: standard base64 with padding.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn journey_via_ingress(addr: &str, who: &str) -> Result<crate::flow::Session> {
    let s = crate::flow::sign_up(
        &format!("http://{addr}"),
        "http://todo.local",
        Some("todo.local"),
        who,
    )?;
    crate::flow::journey(&s)?;
    Ok(s)
}

/// The bare `helm install todo-app ./helm/todo-app` (secrets generated by the chart), then a
/// `helm upgrade` with an unrelated change: the Secret is unchanged, the signed-in session
/// still works, and PostgreSQL still accepts its password.
pub fn plan_bare_install(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    current_context_is(ctx, &t)?;
    let values = plan_image_values(ctx, &t)?.to_string_lossy().into_owned();
    let helm = Helm {
        tool: &ctx.tools.helm,
    };
    let k = kubectl_in(ctx, &t, PLAN_NAMESPACE);
    let addr = "127.0.0.1";
    let started = Instant::now();
    let install = ctx.run_ok(
        &helm
            .as_written(&strings(&[
                "install",
                "todo-app",
                "./helm/todo-app",
                "-f",
                &values,
            ]))
            .cwd(&ctx.root),
    )?;
    wait_ready_in(ctx, &k, Duration::from_secs(300))?;
    report.task(
        "plan: bare helm install → all Ready",
        started.elapsed(),
        Status::Ok,
    );
    let before = secret_values(ctx, &t, PLAN_NAMESPACE)?;
    for key in [
        "BETTER_AUTH_SECRET",
        "MCP_SERVICE_TOKEN",
        "POSTGRES_PASSWORD",
    ] {
        if before.get(key).is_none_or(|v| v.len() < 32) {
            bail!("bare install: the chart did not generate {key}");
        }
    }
    if before.values().any(|v| install.stdout.contains(v.as_str())) {
        bail!("bare install: helm's output (NOTES) shows a secret value");
    }
    let session = journey_via_ingress(addr, "plan-bare")?;
    ctx.say("bare install: sign-up → task → chat through the ingress");

    let started = Instant::now();
    ctx.run_ok(
        &helm
            .as_written(&strings(&[
                "upgrade",
                "todo-app",
                "./helm/todo-app",
                "-f",
                &values,
                "--set",
                "config.logLevel=debug",
            ]))
            .cwd(&ctx.root),
    )?;
    wait_ready_in(ctx, &k, Duration::from_secs(300))?;
    report.task(
        "plan: helm upgrade (logLevel) → all Ready",
        started.elapsed(),
        Status::Ok,
    );
    let after = secret_values(ctx, &t, PLAN_NAMESPACE)?;
    if before != after {
        let changed: Vec<&String> = before
            .keys()
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        bail!("helm upgrade changed the Secret's {changed:?}: generated secrets must be kept");
    }
    // The session signed in before the upgrade still works, and the backend still reaches
    // PostgreSQL with the kept password (the tasks and the chat write to it).
    crate::flow::journey(&session).context("the session from before the upgrade")?;
    crate::flow::delete_account(&session)?;
    ctx.say("upgrade: the Secret is unchanged, the earlier session still works, PostgreSQL accepts its password");

    let started = Instant::now();
    ctx.run_ok(&helm.as_written(&strings(&["uninstall", "todo-app", "--wait"])))?;
    ctx.run_ok(&k.delete_pvcs())?;
    report.task("plan: helm uninstall", started.elapsed(), Status::Ok);
    Ok(())
}

/// The plan's `--set` form against an "external" database: a PostgreSQL the suite starts in
/// namespace `external-db`, and an empty OPENAI_API_KEY (the rule-based agent answers).
pub fn plan_set_form(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    current_context_is(ctx, &t)?;
    let Some((pg_repo, pg_tag)) = t.postgres_ref() else {
        bail!("XTASK_TEST_POSTGRES_IMAGE names no PostgreSQL image for the external database");
    };
    let values = plan_image_values(ctx, &t)?.to_string_lossy().into_owned();
    let kubectl = Kubectl {
        tool: &ctx.tools.kubectl,
    };
    let password = format!("ext{}", run_id().replace('-', ""));
    let manifest = EXTERNAL_DB
        .replace("__IMAGE__", &format!("{pg_repo}:{pg_tag}"))
        .replace("__PASSWORD__", &password);
    crate::process::register_secret(&password);
    let started = Instant::now();
    ctx.run_ok(&kubectl.as_written(&strings(&["apply", "-f", "-"]), Some(manifest)))?;
    ctx.run_ok(&kubectl.as_written(
        &strings(&[
            "-n",
            "external-db",
            "rollout",
            "status",
            "deployment/postgres",
            "--timeout=180s",
        ]),
        None,
    ))?;
    report.task(
        "plan: external PostgreSQL up",
        started.elapsed(),
        Status::Ok,
    );
    let database_url =
        format!("postgresql://todo:{password}@postgres.external-db.svc.cluster.local:5432/todo");
    let auth_secret = format!("plan-set-form-better-auth-{}", run_id());
    crate::process::register_secret(&auth_secret);
    let helm = Helm {
        tool: &ctx.tools.helm,
    };
    let started = Instant::now();
    ctx.run_ok(
        &helm
            .as_written(&[
                "install".into(),
                "todo-app".into(),
                "./helm/todo-app".into(),
                "--set".into(),
                format!("secrets.databaseUrl={database_url}"),
                "--set".into(),
                format!("secrets.betterAuthSecret={auth_secret}"),
                "--set".into(),
                "secrets.openaiApiKey=".into(),
                "-f".into(),
                values,
            ])
            .cwd(&ctx.root),
    )?;
    let k = kubectl_in(ctx, &t, PLAN_NAMESPACE);
    wait_ready_in(ctx, &k, Duration::from_secs(300))?;
    report.task(
        "plan: helm install --set (external database) → all Ready",
        started.elapsed(),
        Status::Ok,
    );
    let snap = kube::Snapshot::parse(
        &ctx.run_ok(&k.get_workloads_and_pods(kube::SELECTOR))?
            .stdout,
    )?;
    if snap.workloads.iter().any(|w| w.kind == "StatefulSet") {
        bail!("--set secrets.databaseUrl: the chart still deployed its own PostgreSQL");
    }
    let s = journey_via_ingress("127.0.0.1", "plan-set")?;
    crate::flow::delete_account(&s)?;
    ctx.say(
        "--set form: external database, no OpenAI key; sign-up → task → chat (rule-based agent)",
    );
    ctx.run_ok(&helm.as_written(&strings(&["uninstall", "todo-app", "--wait"])))?;
    ctx.run_ok(&kubectl.as_written(
        &strings(&[
            "delete",
            "namespace",
            "external-db",
            "--wait=true",
            "--timeout=180s",
        ]),
        None,
    ))?;
    Ok(())
}

const EXTERNAL_DB: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: external-db
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: postgres
  namespace: external-db
spec:
  replicas: 1
  selector:
    matchLabels: {app: external-postgres}
  template:
    metadata:
      labels: {app: external-postgres}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 70, runAsGroup: 70, fsGroup: 70}
      containers:
        - name: postgres
          image: __IMAGE__
          env:
            - {name: POSTGRES_USER, value: todo}
            - {name: POSTGRES_PASSWORD, value: __PASSWORD__}
            - {name: POSTGRES_DB, value: todo}
            - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}
          ports: [{containerPort: 5432}]
          readinessProbe:
            exec: {command: ["pg_isready", "-U", "todo", "-d", "todo"]}
            periodSeconds: 2
          resources:
            requests: {cpu: 50m, memory: 128Mi}
            limits: {cpu: 500m, memory: 512Mi}
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}, {name: run, mountPath: /var/run/postgresql}]
      volumes: [{name: data, emptyDir: {}}, {name: run, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata:
  name: postgres
  namespace: external-db
spec:
  selector: {app: external-postgres}
  ports: [{port: 5432, targetPort: 5432}]
"#;

/// The plan's manual path: the images loaded straight into the node (as `minikube image
/// load` would), `k8s/secrets.yaml` filled from its template, `kubectl apply -f k8s/` in the
/// plan's order, the plan's own `kubectl wait`, `/health` through a port-forward, then
/// `kubectl delete -f k8s/`, which leaves only the released volume behind.
pub fn plan_manifests(ctx: &Ctx, report: &mut Report) -> Result<()> {
    let t = Target::must(&ctx.env)?;
    current_context_is(ctx, &t)?;
    let script = ctx
        .env
        .non_empty("XTASK_CLUSTER_UP")
        .map(str::to_string)
        .context("XTASK_CLUSTER_UP names no cluster-up.sh to load images into the node with")?;
    let app_version =
        crate::services::app_version(&ctx.root)?.context("Chart.yaml has no appVersion")?;
    let mut images: Vec<String> = crate::services::SERVICES
        .iter()
        .map(|s| format!("{}:{app_version}", s.repository))
        .collect();
    // k8s/ names postgres:16-alpine, which cannot be pulled here: the stand-in goes into
    // this throwaway node under that name.
    if let Some(local) = &t.postgres_image {
        let docker = Docker {
            tool: &ctx.tools.docker,
            env: &[],
        };
        ctx.run_ok(&docker.tag(local, "postgres:16-alpine"))?;
        images.push("postgres:16-alpine".into());
        ctx.say(format!(
            "postgres:16-alpine in the node is {local} (the official image cannot be pulled here)"
        ));
        report.task(
            &format!("plan: k8s/ runs {local} as postgres:16-alpine"),
            Duration::ZERO,
            Status::Note,
        );
    }
    let started = Instant::now();
    ctx.run_ok(&crate::tools::cluster_up_load(
        std::path::Path::new(&script),
        &images,
    ))?;
    report.task(
        "plan: images loaded into the node",
        started.elapsed(),
        Status::Ok,
    );

    let dir = tempfile_dir(ctx, "k8s")?;
    for e in std::fs::read_dir(ctx.root.join("k8s"))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "secrets.yaml" {
            std::fs::copy(e.path(), dir.join(&name))?;
        }
    }
    let template = std::fs::read_to_string(ctx.root.join("k8s/secrets.yaml.template"))?;
    std::fs::write(dir.join("secrets.yaml"), fill_secrets_template(&template))?;
    let d = dir.to_string_lossy().into_owned();
    let kubectl = Kubectl {
        tool: &ctx.tools.kubectl,
    };
    let started = Instant::now();
    ctx.run_ok(&kubectl.as_written(
        &strings(&["apply", "-f", &format!("{d}/00-namespace.yaml")]),
        None,
    ))?;
    ctx.run_ok(&kubectl.as_written(&strings(&["apply", "-f", &d]), None))?;
    // The plan's wait, as written; the pods exist a moment after their Deployments.
    let cctx = ctx.for_context(&t.context);
    let k = cluster::kubectl(&cctx);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        let pods = ctx.run(&k.get_pods_json(kube::SELECTOR))?;
        if kube::parse_pods(&pods.stdout).is_ok_and(|p| p.len() >= 6) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    ctx.run_ok(&kubectl.as_written(
        &strings(&[
            "wait",
            "--for=condition=ready",
            "pod",
            "-l",
            "app=todo-chatbot",
            "-n",
            "todo-app",
            "--timeout=300s",
        ]),
        None,
    ))?;
    report.task(
        "plan: kubectl apply -f k8s/ → kubectl wait",
        started.elapsed(),
        Status::Ok,
    );
    let health = backend_health(&cctx)?;
    ctx.say(format!("k8s/: the plan's kubectl wait passed; {health}"));

    let started = Instant::now();
    ctx.run_ok(&kubectl.as_written(
        &strings(&["delete", "-f", &d, "--wait=true", "--timeout=300s"]),
        None,
    ))?;
    report.task(
        "plan: kubectl delete -f k8s/",
        started.elapsed(),
        Status::Ok,
    );
    let left = ctx.run_ok(&kubectl.as_written(
        &strings(&[
            "get",
            "pv",
            "-o",
            "custom-columns=NAME:.metadata.name,STATUS:.status.phase,CLAIM:.spec.claimRef.name",
            "--no-headers",
        ]),
        None,
    ))?;
    let released: Vec<&str> = left
        .stdout
        .lines()
        .filter(|l| l.contains("Released"))
        .collect();
    ctx.say(format!(
        "after kubectl delete -f k8s/: {} released volume(s) remain: {}",
        released.len(),
        released.join("; ")
    ));
    report.task(
        &format!(
            "plan: {} released volume(s) left after delete -f k8s/",
            released.len()
        ),
        Duration::ZERO,
        Status::Note,
    );
    let ns = ctx.run(&cluster::kubectl(&cctx).get_namespace())?;
    if ns.success() {
        bail!("namespace todo-app is still there after kubectl delete -f k8s/");
    }
    Ok(())
}

/// `/health` through `kubectl port-forward svc/backend-service`.
fn backend_health(cctx: &Ctx) -> Result<String> {
    let cmd = cluster::kubectl(cctx).port_forward(
        "svc/backend-service",
        crate::services::service("backend").port,
    );
    let mut pf = cctx.spawn(&cmd)?;
    let result = (|| {
        let t = Instant::now();
        let port = loop {
            if let Some(p) = crate::smoke::parse_forwarding(&pf.output()) {
                break p;
            }
            if t.elapsed() > Duration::from_secs(20) || !pf.alive() {
                bail!("no port-forward: {}", pf.output().trim());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let r = crate::http::get(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_secs(10),
        )?;
        if r.status != 200 {
            bail!("/health through the port-forward → HTTP {}", r.status);
        }
        Ok(format!(
            "/health 200 through kubectl port-forward (127.0.0.1:{port})"
        ))
    })();
    pf.stop();
    result
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
    fn a_binary_rebuilt_under_the_running_suite_is_found_at_its_path() {
        assert_eq!(
            live_path("/repo/target/debug/xtask (deleted)"),
            "/repo/target/debug/xtask"
        );
        assert_eq!(
            live_path("/repo/target/debug/xtask"),
            "/repo/target/debug/xtask"
        );
        assert!(std::path::Path::new(&own_binary()).is_file());
    }

    #[test]
    fn a_deploy_report_says_what_was_built_and_pushed() {
        let mut r = Report::new();
        for (service, cached) in [("frontend", false), ("backend", true)] {
            r.images.push(crate::report::ImageRow {
                service: service.into(),
                tag: "t".into(),
                size: None,
                own_size: None,
                cached,
            });
        }
        r.task("deliver frontend", Duration::ZERO, Status::Pushed);
        r.task("deliver backend", Duration::ZERO, Status::Present);
        r.task("build", Duration::ZERO, Status::Ok);
        assert_eq!(
            built_and_pushed(&r),
            (vec!["frontend".to_string()], vec!["frontend".to_string()])
        );
    }

    #[test]
    fn base64_decodes_what_kubernetes_encodes() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a$b=").is_none());
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
