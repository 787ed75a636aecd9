//! `cargo xtask deploy`: doctor → `up` when needed → build into the cluster's daemon →
//! verify the images are where the cluster looks → `helm upgrade --install` (no `--wait`, no
//! `--atomic`) → our own readiness watch, which names what is wrong (as Skaffold does) →
//! on failure the diagnose bundle first, then a rollback (or an uninstall after a failed
//! first install) → on success the SC-001/SC-002 gates, the report and the URL.
//!
//! A second deploy with nothing changed builds nothing (the content tags exist) and passes
//! the same tags, so Helm leaves the Deployments, and their pods, alone.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::build::{self, Built, DockerTarget, Target};
use crate::cluster;
use crate::ctx::{failure_message, Ctx};
use crate::deliver::{self, Delivery, Fate, Registry};
use crate::doctor;
use crate::kube::{self, Kind, Problem, Snapshot};
use crate::report::{Gate, Report, Status};
use crate::secrets;
use crate::services;
use crate::tools::{Helm, Version};
use crate::up;
use crate::Exit;

/// SC-001: `helm upgrade` start → all pods Ready.
pub const SC001_BUDGET_S: f64 = 300.0;
/// SC-002: container started → pod Ready.
pub const SC002_BUDGET_S: f64 = 3.0;
/// Beyond a readiness probe's own threshold (periods × failureThreshold), for the poll and
/// the kubelet's status update to catch up, before a not-Ready pod fails the deploy.
const NOT_READY_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub up: up::Args,
    /// `docker build --network` (e.g. `host`).
    #[arg(long)]
    pub network: Option<String>,
    /// Base image override, `python=IMAGE` or `node=IMAGE`.
    #[arg(long = "base", value_name = "KIND=IMAGE")]
    pub bases: Vec<String>,
    /// An extra build argument, `KEY=VALUE`, or `SERVICE:KEY=VALUE` for one service only.
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// On failure, leave the failed release in place for inspection (no rollback).
    #[arg(long)]
    pub keep_failed: bool,
    /// How long the readiness watch waits for every pod to be Ready.
    #[arg(long, default_value = "5m", value_parser = kube::parse_duration)]
    pub timeout: Duration,
    /// How long a pod may stay unschedulable, unable to create or start its container
    /// (CreateContainerConfigError, CreateContainerError, RunContainerError) or to mount a
    /// volume before the watch gives up on it.
    #[arg(long, default_value = "30s", value_parser = kube::parse_duration)]
    pub settle: Duration,
    /// How long the kubelet may retry an image pull that failed for a registry error, a rate
    /// limit or a timeout before the watch gives up (an image that does not exist fails at once).
    #[arg(long, default_value = "60s", value_parser = kube::parse_duration)]
    pub pull_grace: Duration,
    /// Restarts after which a crashing container (or a failing migration) fails the deploy.
    #[arg(long, default_value_t = 3)]
    pub max_restarts: u32,
    /// Push the images to this registry, `HOST[:PORT][/PREFIX]`, and have the cluster pull
    /// them from there (what any cluster but minikube, kind or Docker Desktop needs).
    #[arg(long, env = "XTASK_REGISTRY", value_name = "HOST[:PORT][/PREFIX]")]
    pub registry: Option<String>,
    /// How images reach the cluster, when the context's name does not say (default:
    /// minikube without --context, `kind load` for kind-*, the host daemon for Docker
    /// Desktop, OrbStack and Rancher Desktop, a registry with --registry).
    #[arg(long, value_enum)]
    pub delivery: Option<deliver::Method>,
    /// A values file for the chart (repeatable); after the chart's defaults, before the
    /// xtask's computed values (images, secrets).
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<std::path::PathBuf>,
    /// A chart value, `KEY=VALUE` (repeatable); wins over everything else.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Under --dry-run: the exit code of a check that would stop a real deploy.
    #[arg(skip)]
    dry_run_blocked: std::cell::Cell<Option<u8>>,
}

/// The tools `setup` fetches (a real deploy offers to, so their absence does not stop it).
fn is_fetchable(tool: &str) -> bool {
    crate::setup::PINS.iter().any(|p| p.name == tool)
}

/// Why a deploy did not finish, and what the watch saw.
struct Failure {
    reason: String,
    problems: Vec<Problem>,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        // A machine with only Docker and Rust: offer to fetch the pinned tools first, then
        // resolve them again so this run uses what landed in .tools/.
        let refreshed;
        let mut cluster_tools = vec![&ctx.tools.kubectl, &ctx.tools.helm];
        if cluster::on_minikube(ctx) {
            cluster_tools.push(&ctx.tools.minikube);
        }
        // A tool named by an XTASK_<TOOL> override that is not there is the doctor's to report.
        let fetchable = |t: &&crate::tools::Tool| {
            !t.found()
                && ctx
                    .env
                    .non_empty(&format!("XTASK_{}", t.name.to_uppercase()))
                    .is_none()
        };
        if ctx.global.dry_run {
            let missing: Vec<&str> = cluster_tools
                .iter()
                .filter(|t| !t.found())
                .map(|t| t.name)
                .collect();
            if !missing.is_empty() {
                ctx.show(format!(
                    "would run: cargo xtask setup {}   (not installed: deploy offers to fetch the pinned versions into .tools/, sha256-verified)",
                    missing.join(" ")
                ));
            }
        }
        let ctx = if !ctx.global.dry_run && cluster_tools.iter().any(fetchable) {
            crate::setup::ensure_tools(ctx, self.up.yes)?;
            refreshed = ctx.with_tools(crate::tools::Tools::resolve(&ctx.root, &ctx.env));
            &refreshed
        } else {
            ctx
        };
        let mut report = Report::new();
        let started = Instant::now();
        let result = self.deploy(ctx, &mut report);
        let status = Status::of(&result);
        report.task("deploy", started.elapsed(), status);
        if !ctx.global.dry_run {
            let path = report.write(&ctx.env, &ctx.target_dir())?;
            if ctx.global.json {
                ctx.show(serde_json::to_string_pretty(&report)?);
            }
            ctx.say(format!("report: {}", ctx.rel(&path).display()));
        }
        result?;
        if let Some(code) = self.dry_run_blocked.get() {
            ctx.say(format!(
                "a real deploy would stop at the checks marked above (exit {code})"
            ));
            return Err(Exit(code).into());
        }
        report.verdict(ctx, "see the report")
    }

    fn deploy(&self, ctx: &Ctx, report: &mut Report) -> Result<()> {
        // 0. Where the images go, and the user's values: bad input stops before anything runs.
        let delivery = Delivery::detect(
            ctx.global.context.as_deref(),
            self.registry.as_deref().map(Registry::parse).transpose()?,
            self.delivery,
        )?;
        let user_values = self.user_values()?;
        for kv in &self.set {
            if !kv.contains('=') {
                bail!("--set {kv:?}: expected KEY=VALUE (e.g. --set replicas.backend=3)");
            }
        }
        // Hidden from here on: every echo, log and error tail of this run.
        secrets::register_set_secrets(&self.set);
        ctx.say(format!(
            "target: context `{}`, images {}",
            cluster::kube_context(ctx),
            delivery.describe()
        ));

        // 1. The tools and the daemon.
        let t = Instant::now();
        let checks = doctor::run_checks(ctx, true);
        // A dry run shows the whole plan even so: it marks what it could not verify, and its
        // exit code still says whether a real deploy would start (a tool `setup` fetches
        // does not stop one; anything else does).
        let blocking = checks.iter().find(|c| {
            c.level == doctor::Level::Fail
                && !(ctx.global.dry_run && c.found == "not found" && is_fetchable(c.name.as_str()))
        });
        if ctx.global.dry_run {
            for c in checks.iter().filter(|c| c.level == doctor::Level::Fail) {
                ctx.say(format!(
                    "! not verified: {}: {}  [{}]",
                    c.name,
                    c.found,
                    c.id.map_or("", doctor::Problem::id)
                ));
            }
            self.dry_run_blocked
                .set(blocking.and_then(|c| c.id).map(doctor::Problem::exit_code));
        } else if let Some(id) = blocking.and_then(|c| c.id) {
            for c in checks.iter().filter(|c| c.level == doctor::Level::Fail) {
                ctx.say(format!(
                    "✗ {}: {}  [{}]",
                    c.name,
                    c.found,
                    c.id.map_or("", doctor::Problem::id)
                ));
                if let Some(fix) = &c.fix {
                    ctx.say(format!("    {fix}"));
                }
            }
            report.task("doctor", t.elapsed(), Status::Failed);
            return Err(Exit(id.exit_code()).into());
        }
        report.task("doctor", t.elapsed(), Status::Ok);
        if ctx.tools.helm.found() || !ctx.global.dry_run {
            let helm = helm_version(ctx)?;
            ctx.say(format!(
                "helm {helm} (Helm {}): upgrade --install without --wait/--atomic, the same flags for Helm 3 and 4",
                helm.major
            ));
        }

        // 2. The cluster: minikube is started when needed; any other context must answer.
        let (up_took, would_start) = if cluster::on_minikube(ctx) {
            let up = self.up.ensure(ctx)?;
            report.task(
                if up.started {
                    "up (started)"
                } else {
                    "up (already running)"
                },
                up.took,
                Status::Ok,
            );
            (up.took, ctx.global.dry_run && up.started)
        } else {
            let t = Instant::now();
            self.check_context(ctx)?;
            report.task("cluster answers", t.elapsed(), Status::Ok);
            (t.elapsed(), false)
        };

        // 3. The images, into the daemon the cluster uses.
        let t = Instant::now();
        let built = if would_start {
            // The tags are known without a daemon: they hash the build contexts.
            let inputs = services::BuildInputs::new(&ctx.env, &self.bases, &self.build_args)?;
            for s in services::SERVICES {
                if let Some(d) = services::content_digest(&ctx.root, &s, &inputs)? {
                    ctx.show(format!(
                        "would build: {}:{} into minikube's daemon, once the profile is up (unless it is there already)",
                        s.repository, d.tag
                    ));
                }
            }
            Vec::new()
        } else {
            let (target, built) = build::Args {
                services: Vec::new(),
                target: Some(if delivery == Delivery::Minikube {
                    Target::Minikube
                } else {
                    Target::Host
                }),
                network: self.network.clone(),
                bases: self.bases.clone(),
                build_args: self.build_args.clone(),
            }
            .build(ctx, report)?;
            let missing: Vec<_> = services::SERVICES
                .iter()
                .filter(|s| !built.iter().any(|b| b.service.name == s.name))
                .map(|s| format!("{} ({})", s.name, s.dockerfile))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "nothing to deploy for {}: no Dockerfile. The chart runs all three services.",
                    missing.join(", ")
                );
            }
            if delivery == Delivery::Minikube {
                verify_images(ctx, &target, &built)?;
            }
            built
        };
        report.task("build", t.elapsed(), Status::Ok);
        let delivered = deliver::deliver(ctx, &delivery, &built)?;
        for d in &delivered {
            let fate = match d.fate {
                Fate::Present => Status::Present,
                Fate::Pushed => Status::Pushed,
                Fate::Loaded => Status::Loaded,
            };
            report.task(
                &format!("deliver {}", d.service),
                Duration::from_secs_f64(d.seconds),
                fate,
            );
        }

        // 4. What to go back to if this fails (and whether the release exists).
        let release = cluster::release(ctx);
        let history = if ctx.global.dry_run && !ctx.tools.helm.found() {
            crate::process::Outcome {
                code: Some(1),
                stderr: "not verified: helm is not installed".into(),
                ..Default::default()
            }
        } else {
            ctx.run(&release.history())?
        };
        let (first_install, previous) = if history.success() {
            let h = kube::parse_history(&history.stdout)?;
            (h.is_empty(), kube::last_deployed(&h))
        } else if history.stderr.contains("not found") || ctx.global.dry_run {
            (true, None)
        } else {
            bail!(
                "could not read the release's history:\n{}\n  fix: is the cluster up? `cargo xtask up`, then `cargo xtask doctor`",
                failure_message(&release.history(), &history)
            );
        };

        // 5. The secrets: environment first, else .data/secrets.env (created once). Once the
        // release exists, the chart keeps what neither holds (it reads its own Secret back).
        let secrets = secrets::load_for(&ctx.root, &ctx.env, !ctx.global.dry_run, !first_install)?;
        if let Some(path) = &secrets.generated {
            let verb = if ctx.global.dry_run {
                "would generate"
            } else {
                "generated"
            };
            ctx.say(format!(
                "{verb} {} (mode 0600) with random BETTER_AUTH_SECRET, MCP_SERVICE_TOKEN and POSTGRES_PASSWORD",
                ctx.rel(path).display()
            ));
        }
        if !secrets.kept_by_release.is_empty() {
            ctx.say(format!(
                "release {} exists and neither the environment nor {} holds secrets.{}: not passed, so the chart keeps the release's own",
                kube::RELEASE,
                secrets::FILE,
                secrets.kept_by_release.join(", secrets.")
            ));
        }

        // 6. helm upgrade --install.
        // Helm's order: the chart's defaults, the values files (minikube's dev values first,
        // then --values), the computed values (secrets on stdin, then images as --set), and
        // the user's --set last, so an explicit --set wins over everything.
        let mut values = Vec::new();
        let dev_values = Path::new(kube::CHART).join("values-dev.yaml");
        if cluster::on_minikube(ctx) && ctx.root.join(&dev_values).is_file() {
            values.push(dev_values);
        }
        values.extend(user_values);
        let mut set = Vec::new();
        for (b, d) in built.iter().zip(&delivered) {
            if let Delivery::Registry(_) = delivery {
                let repo = d
                    .image
                    .rsplit_once(':')
                    .map_or(d.image.as_str(), |(r, _)| r);
                set.push(format!("images.{}.repository={repo}", b.service.name));
            }
            set.push(format!("images.{}.tag={}", b.service.name, b.tag));
            // Built into the node's own daemon, the kubelet must never try to pull it; from a
            // registry, once per node.
            set.push(format!(
                "images.{}.pullPolicy={}",
                b.service.name,
                delivery.pull_policy()
            ));
        }
        set.extend(self.set.iter().cloned());
        // Whatever a values file or a `--set` passes under a secret-looking key is hidden too.
        for v in &values {
            secrets::register_values_file(&ctx.root.join(v));
        }
        secrets::register_set_secrets(&set);
        let upgrade = release
            .upgrade_install(
                Path::new(kube::CHART),
                &values,
                &set,
                Some(secrets.values_yaml()),
            )
            .cwd(&ctx.root);
        if ctx.global.dry_run {
            ctx.show(format!("would run: {}", upgrade.display()));
            ctx.show("  with values on stdin (-f -):");
            for k in secrets.redacted_keys() {
                ctx.show(format!("    {k}"));
            }
            ctx.show(format!(
                "would watch: {} every {}ms for up to {}s, then on failure write the diagnose bundle and {}",
                cluster::kubectl(ctx).get_workloads_and_pods(kube::SELECTOR).display(),
                cluster::poll_interval(ctx).as_millis(),
                self.timeout.as_secs(),
                match (self.keep_failed, previous) {
                    (true, _) => "keep the failed release (--keep-failed)".to_string(),
                    (false, Some(r)) => format!("`helm rollback {} {r}`", kube::RELEASE),
                    (false, None) => format!("`helm uninstall {}` (first install)", kube::RELEASE),
                }
            ));
            return Ok(());
        }
        ctx.say(format!(
            "helm upgrade --install {} ({}) …",
            kube::RELEASE,
            if first_install {
                "first install"
            } else {
                "upgrade"
            }
        ));
        let upgrade_started = Instant::now();
        let out = ctx.run(&upgrade)?;
        report.task(
            "helm upgrade",
            upgrade_started.elapsed(),
            if out.success() {
                Status::Ok
            } else {
                Status::Failed
            },
        );
        if !out.success() {
            let failure = Failure {
                reason: format!("helm upgrade failed:\n{}", out.tail(15)),
                problems: Vec::new(),
            };
            return self.fail(ctx, report, failure, previous);
        }
        let revision = out
            .stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("REVISION:"))
            .map(|r| r.trim().to_string());

        // 7. Our own readiness watch.
        let t = Instant::now();
        let snap = match self.watch(ctx, upgrade_started)? {
            Watched::Ready(snap) => {
                report.task("readiness watch", t.elapsed(), Status::Ok);
                snap
            }
            Watched::Stuck(f) => {
                report.task("readiness watch", t.elapsed(), Status::Failed);
                return self.fail(ctx, report, f, previous);
            }
        };
        let sc001 = upgrade_started.elapsed().as_secs_f64();
        report.gates.push(Gate::below(
            "SC-001",
            "deploy: helm upgrade start → all pods Ready",
            round1(sc001),
            SC001_BUDGET_S,
            "s",
        ));
        for pod in snap.live_pods() {
            if let Some(s) = pod.cold_start_seconds() {
                report.gates.push(Gate::below(
                    "SC-002",
                    format!("cold start {} (started → Ready)", pod.name()),
                    s as f64,
                    SC002_BUDGET_S,
                    "s",
                ));
            }
        }
        let pods = snap.live_pods().count();
        ctx.say(format!(
            "✓ {} revision {} deployed: {pods} pods Ready {:.1}s after helm upgrade started (build {:.1}s, up {:.1}s)",
            kube::RELEASE,
            revision.as_deref().unwrap_or("?"),
            sc001,
            report.tasks.iter().find(|t| t.name == "build").map(|t| t.seconds).unwrap_or(0.0),
            up_took.as_secs_f64()
        ));
        let ip = cluster::minikube_ip(ctx)
            .or_else(|| cluster::ingress_status_address(ctx))
            .unwrap_or_else(|| "the ingress controller's address".into());
        if !ctx.global.json {
            ctx.show("http://todo.local");
        }
        ctx.say(format!(
            "  (todo.local must resolve to {ip}: `cargo xtask doctor` checks the hosts entry; `cargo xtask smoke` needs none)"
        ));
        Ok(())
    }

    /// `--values` files must exist; they are passed as absolute paths (helm runs in the
    /// repository root, the user typed them relative to where they are).
    fn user_values(&self) -> Result<Vec<std::path::PathBuf>> {
        let cwd = std::env::current_dir()?;
        self.values
            .iter()
            .map(|v| {
                let p = cwd.join(v);
                if p.is_file() {
                    Ok(p)
                } else {
                    bail!("--values {}: no such file", v.display())
                }
            })
            .collect()
    }

    /// A context other than minikube's: its API must answer, and its ingress controller
    /// should serve the chart's IngressClass (a warning with the fix when not).
    fn check_context(&self, ctx: &Ctx) -> Result<()> {
        let name = cluster::kube_context(ctx);
        let k = cluster::kubectl(ctx);
        let out = ctx.run(&k.readyz())?;
        if !(out.success() && out.stdout.trim() == "ok") {
            let why = format!(
                "the Kubernetes API of context `{name}` does not answer:\n{}\n  fix: `kubectl --context {name} cluster-info`; `kubectl config get-contexts` lists the contexts of $KUBECONFIG",
                out.tail(5)
            );
            if ctx.global.dry_run {
                ctx.say(format!("! not verified: {why}"));
                return Ok(());
            }
            bail!("{why}");
        }
        let wanted = self
            .set
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix("ingress.ingressClassName="))
            .unwrap_or("nginx");
        let classes = cluster::ingress_classes(ctx);
        if classes.is_empty() {
            ctx.say(format!(
                "! context `{name}` has no IngressClass, so nothing will serve http://todo.local.\n    fix: install an ingress controller (ingress-nginx: https://kubernetes.github.io/ingress-nginx/deploy/), or reach the app with `kubectl --context {name} -n {} port-forward svc/frontend-service 3000`",
                kube::NAMESPACE
            ));
        } else if !classes.iter().any(|c| c == wanted) {
            ctx.say(format!(
                "! context `{name}` has no IngressClass `{wanted}` (it has: {}).\n    fix: `--set ingress.ingressClassName={}`",
                classes.join(", "),
                classes[0]
            ));
        }
        Ok(())
    }

    /// Polls until every workload is rolled out and every live pod Ready, failing fast on a
    /// problem that waiting cannot fix. An error means the watch itself stopped (Ctrl-C).
    fn watch(&self, ctx: &Ctx, since: Instant) -> Result<Watched> {
        let poll = cluster::poll_interval(ctx);
        let mut first_seen: HashMap<(String, String), Instant> = HashMap::new();
        let mut last_line = String::new();
        let mut last_error = String::new();
        let mut snap = Snapshot::default();
        let init_budget = kube::init_budget(&ctx.root);
        loop {
            match cluster::snapshot(ctx) {
                Ok(s) => snap = s,
                // One failed poll (an API hiccup) is not a failed deploy; the timeout bounds it.
                Err(e) => last_error = format!("{e:#}"),
            }
            if snap.all_ready() {
                return Ok(Watched::Ready(snap));
            }
            let events = if snap.live_pods().any(kube::needs_events) {
                cluster::events(ctx)
            } else {
                Vec::new()
            };
            let seen = kube::Seen {
                events: &events,
                now: Some(kube::now(&ctx.env)),
                init_budget,
            };
            let problems: Vec<Problem> = snap
                .live_pods()
                .flat_map(|p| kube::pod_problems_in(p, &seen))
                .collect();
            let now = Instant::now();
            // Each problem's clock runs from when it was first seen in this instance of the
            // container: a restart starts it again, so a container that crashes and comes back
            // is judged a crash (by its restarts), never "runs but is not Ready" for the time
            // its instances added up.
            let mut waited = |p: &Problem, grace: Duration| {
                let key = format!("{:?} {} restart {}", p.kind, p.container, p.restarts);
                let seen = *first_seen.entry((p.pod.clone(), key)).or_insert(now);
                now.duration_since(seen) >= grace
            };
            let fatal: Vec<Problem> = problems
                .iter()
                .filter(|p| match p.kind {
                    Kind::ImageMissing | Kind::OomKilled | Kind::InitOverrun => true,
                    Kind::Crash | Kind::InitFailed => p.restarts >= self.max_restarts,
                    Kind::ImagePull => waited(p, self.pull_grace),
                    Kind::Unschedulable
                    | Kind::ConfigError
                    | Kind::CreateError
                    | Kind::RunError
                    | Kind::MountFailed => waited(p, self.settle),
                    // Running, started, and still not Ready once its readiness probe has
                    // failed for its own threshold: waiting longer will not help.
                    Kind::NotReady => snap
                        .live_pods()
                        .find(|pod| pod.name() == p.pod)
                        .filter(|pod| {
                            pod.status
                                .container_statuses
                                .iter()
                                .any(|c| c.name == p.container && c.started == Some(true))
                        })
                        .and_then(|pod| pod.spec_of(&p.container)?.readiness_probe.clone())
                        .is_some_and(|probe| waited(p, probe.threshold() + NOT_READY_GRACE)),
                    Kind::Starting => false,
                })
                .cloned()
                .collect();
            if !fatal.is_empty() {
                return Ok(Watched::Stuck(Failure {
                    reason: format!("{} pod problem(s) that waiting will not fix", fatal.len()),
                    problems: dedup(fatal),
                }));
            }
            let line = progress(&snap);
            if line != last_line {
                ctx.say(format!("  waiting: {line}"));
                last_line = line;
            }
            if since.elapsed() >= self.timeout {
                let mut reason = format!(
                    "not every pod was Ready within {}s ({})",
                    self.timeout.as_secs(),
                    last_line
                );
                if !last_error.is_empty() {
                    reason.push_str(&format!("; last poll error: {last_error}"));
                }
                // Every pod that is not Ready gets its cause, a named one or its state.
                let mut problems = problems;
                for pod in snap.live_pods() {
                    if !pod.ready() && !problems.iter().any(|p| p.pod == pod.name()) {
                        problems.extend(kube::pending(pod, &seen));
                    }
                }
                return Ok(Watched::Stuck(Failure {
                    reason,
                    problems: dedup(problems),
                }));
            }
            if crate::process::interrupted() {
                // Ctrl-C means "stop", not "undo": leave the release as helm installed it and
                // say how to look at it, resume, or undo.
                bail!(
                    "interrupted during the readiness watch: the release stays as installed, without a rollback; `cargo xtask status` shows it, `cargo xtask deploy` resumes the watch, `helm rollback {} -n {}` or `cargo xtask down` undo it",
                    kube::RELEASE,
                    kube::NAMESPACE
                );
            }
            std::thread::sleep(poll);
        }
    }

    /// Diagnose first (the failing pods disappear with the rollback), then roll back.
    fn fail(&self, ctx: &Ctx, report: &Report, f: Failure, previous: Option<u32>) -> Result<()> {
        ctx.say(format!("✗ deploy failed: {}", f.reason));
        // The exit code (and guide entry) of the first named problem, else of Helm's failure
        // or the timeout; each problem's own explanation points at its entry.
        // A pod that is merely still starting names no cause: the timeout is the failure.
        let named = f
            .problems
            .iter()
            .map(|p| p.kind)
            .find(|k| *k != Kind::Starting);
        let entry = kube::failure_entry(&f.reason, named);
        if named.is_none() {
            ctx.say(format!("  {}", crate::guide::see(entry.id)));
        }
        let mut summary = vec![format!("deploy failed: {}", f.reason)];
        for p in &f.problems {
            let text = cluster::explain(ctx, p);
            ctx.say(format!("  • {text}"));
            summary.push(text);
        }
        let pods: Vec<String> = f.problems.iter().map(|p| p.pod.clone()).collect();
        // The bundle includes this run's report so far.
        let _ = report.write(&ctx.env, &ctx.target_dir());
        match crate::diagnose::collect(ctx, &summary.join("\n\n"), &pods) {
            Ok(dir) => ctx.say(format!("  diagnose bundle: {}", ctx.rel(&dir).display())),
            Err(e) => ctx.say(format!("  ! could not write the diagnose bundle: {e:#}")),
        }
        let release = cluster::release(ctx);
        if self.keep_failed {
            ctx.say(format!(
                "  the failed release is left in place (--keep-failed): `cargo xtask status`, `cargo xtask logs <component>`; roll back with `helm rollback {} -n {}`{}",
                kube::RELEASE,
                kube::NAMESPACE,
                previous.map(|r| format!(" {r}")).unwrap_or_default()
            ));
        } else if let Some(rev) = previous {
            let cmd = release.rollback(rev);
            let out = ctx.run(&cmd)?;
            if out.success() {
                ctx.say(format!("  rolled back to revision {rev}"));
            } else {
                ctx.say(format!(
                    "  ! the rollback failed too:\n{}",
                    failure_message(&cmd, &out)
                ));
            }
        } else {
            let cmd = release.uninstall();
            let out = ctx.run(&cmd)?;
            if !out.success() && out.stderr.contains("not found") {
                ctx.say("  nothing was installed, so there is nothing to undo");
            } else if out.success() {
                ctx.say(format!(
                    "  first install failed: release {} uninstalled (--keep-failed keeps it for inspection)",
                    kube::RELEASE
                ));
            } else {
                ctx.say(format!(
                    "  ! the uninstall failed too:\n{}",
                    failure_message(&cmd, &out)
                ));
            }
        }
        Err(Exit(entry.exit_code).into())
    }
}

/// How the readiness watch ended.
enum Watched {
    /// Every workload rolled out, every live pod Ready.
    Ready(Snapshot),
    /// A problem waiting will not fix, or the timeout: what to report and roll back.
    Stuck(Failure),
}

fn dedup(mut problems: Vec<Problem>) -> Vec<Problem> {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert((p.pod.clone(), p.container.clone(), p.kind)));
    problems
}

fn progress(snap: &Snapshot) -> String {
    if snap.workloads.is_empty() {
        return "no workloads of the release yet".into();
    }
    let mut parts: Vec<String> = snap.workloads.iter().map(|w| w.progress()).collect();
    let not_ready: Vec<&str> = snap
        .live_pods()
        .filter(|p| !p.ready())
        .map(|p| p.name())
        .collect();
    if !not_ready.is_empty() {
        parts.push(format!("not Ready: {}", not_ready.join(", ")));
    }
    parts.join("; ")
}

fn helm_version(ctx: &Ctx) -> Result<Version> {
    let out = ctx.run_ok(
        &Helm {
            tool: &ctx.tools.helm,
        }
        .version(),
    )?;
    Version::parse(&out.stdout)
        .ok_or_else(|| anyhow::anyhow!("unreadable `helm version`: {:?}", out.stdout))
}

/// Each image must be where the kubelet looks: minikube's daemon (or, for a non-Docker
/// runtime, its image store). Under `--dry-run` a not-yet-built image is expected missing.
fn verify_images(ctx: &Ctx, target: &DockerTarget, built: &[Built]) -> Result<()> {
    let listed = match &target.load_into {
        Some(p) => Some(
            ctx.run_ok(&crate::cluster::minikube(ctx, p).image_ls())?
                .stdout,
        ),
        None => None,
    };
    let wanted: Vec<&Built> = built
        .iter()
        .filter(|b| b.cached || !ctx.global.dry_run)
        .collect();
    let in_daemon = match &listed {
        Some(_) => Vec::new(),
        None => {
            let images: Vec<String> = wanted.iter().map(|b| b.image.clone()).collect();
            crate::tools::docker_api::inspect(ctx, &target.env, &images)?
        }
    };
    for (i, b) in wanted.into_iter().enumerate() {
        let present = match &listed {
            Some(list) => build::in_image_list(list, &b.image),
            None => in_daemon.get(i).is_some_and(Option::is_some),
        };
        if !present {
            bail!(
                "image {} is not in the cluster's daemon ({}).\n  fix: `cargo xtask build --target minikube {}`",
                b.image,
                target.name,
                b.service.name
            );
        }
    }
    Ok(())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
