//! `cargo xtask bench`: the project's own benchmark. Not a test: no figure passes or fails.
//!
//! Each section measures side by side in one run, over several rounds, with the pairs
//! alternating (A, B, A, B, …) so that a machine's drift hits both sides alike, and reports
//! medians (and the 95th percentile where a figure is a latency):
//! - `build`: the no-op `xtask build` (every image cached) against the cached `docker build`s
//!   of the same images, as whole processes: this binary against the three `docker build`
//!   commands `build` itself would run (classic builder, same contexts, Dockerfiles, build
//!   arguments, tags and label);
//! - `hash`: each context's content hash against `sha256sum` over the same bytes, the
//!   physical limit;
//! - `sizes`: each image's size and own layers (and, on a stand-in base, the estimate on the
//!   official one), as `images` reads them;
//! - `coldstart`: each image's `docker run` → healthy, on its own (its container run again
//!   while the other two wait) and the three started together as `dev --containers` starts them;
//! - `throughput`: bounded load runs on loopback (a fixed count of requests over keep-alive
//!   connections, with a time limit) against the running stack, each beside a plain server
//!   in the same image (a bare Node.js `http` server, a bare Starlette app under the same
//!   uvicorn), with req/s and p95;
//! - `cluster` (with `--context`): the no-op redeploy, and each pod's cold start in a
//!   rolling restart (created → started → Ready).
//!
//! It writes `target/xtask/bench.json` and `bench.md`; every figure carries the command that
//! reproduces it. Noisy shared machines make absolute times wander: read the ratios.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::ctx::Ctx;
use crate::dev::{Mode, Stack};
use crate::http::{self, Conn, Endpoint, Request};
use crate::process::{interrupted, Cmd};
use crate::report::Report;
use crate::services::{self, BuildInputs, SERVICES};
use crate::tools::{Docker, RunSpec};
use crate::{build, cluster_suite, images};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Section {
    Build,
    Hash,
    Sizes,
    Coldstart,
    Throughput,
    Cluster,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Build => "build",
            Section::Hash => "hash",
            Section::Sizes => "sizes",
            Section::Coldstart => "coldstart",
            Section::Throughput => "throughput",
            Section::Cluster => "cluster",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rounds of each comparison (pairs alternate A, B, A, B, …).
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Only these sections (comma-separated); default: every one that applies (`cluster`
    /// needs `--context`).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
    /// Stack start-ups for the cold starts (each starts the three containers).
    #[arg(long, default_value_t = 3)]
    pub coldstart_rounds: usize,
    /// Requests in each load run (throughput).
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Chat round trips in the chat's load run (the rule agent answers without an OpenAI key).
    #[arg(long, default_value_t = 40)]
    pub chat_requests: usize,
    /// Time limit of each load run, in seconds: a slow target stops there.
    #[arg(long, default_value_t = 10)]
    pub time_limit: u64,
    /// Rounds of each throughput pair (the bare server, then the app's endpoint).
    #[arg(long, default_value_t = 3)]
    pub throughput_rounds: usize,
    /// Concurrent keep-alive connections of each load run.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// PostgreSQL for the running stack (coldstart, throughput).
    #[arg(
        long,
        env = "XTASK_SMOKE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// A file to hold a lock on (flock) while the stack binds its fixed ports 3000, 8000 and
    /// 8001, where several checkouts share a machine.
    #[arg(long, env = "XTASK_PORTS_LOCK", value_name = "FILE")]
    pub ports_lock: Option<PathBuf>,
    /// cluster: the registry the cluster pulls from (`deploy --registry`).
    #[arg(long, env = "XTASK_REGISTRY")]
    pub registry: Option<String>,
    /// cluster: a `--set KEY=VALUE` for every deploy (e.g. a PostgreSQL image the cluster
    /// can pull).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub section: &'static str,
    pub name: String,
    /// The median of the samples (or the single value).
    pub value: f64,
    pub unit: String,
    /// The 95th percentile, for latencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    pub samples: Vec<f64>,
    /// What reproduces it.
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Bench {
    date: String,
    machine: String,
    cpus: usize,
    /// Which xtask binary measured (debug or release), and where it is.
    binary: String,
    rounds: usize,
    figures: Vec<Figure>,
    /// Sections that did not run, with the reason.
    skipped: BTreeMap<&'static str, String>,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        if ctx.global.dry_run {
            bail!("`bench` measures; there is no plan to print with --dry-run");
        }
        if [
            self.rounds,
            self.coldstart_rounds,
            self.throughput_rounds,
            self.concurrency,
        ]
        .contains(&0)
        {
            bail!("--rounds, --coldstart-rounds, --throughput-rounds and --concurrency must be at least 1");
        }
        let mut sections = if self.only.is_empty() {
            vec![
                Section::Build,
                Section::Hash,
                Section::Sizes,
                Section::Coldstart,
                Section::Throughput,
                Section::Cluster,
            ]
        } else {
            self.only.clone()
        };
        sections.sort();
        sections.dedup();
        let mut bench = Bench {
            date: crate::kube::utc_date(now_secs()),
            machine: machine(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            binary: binary(ctx),
            rounds: self.rounds,
            figures: Vec::new(),
            skipped: BTreeMap::new(),
        };
        let mut failed = Vec::new();
        for section in sections {
            if interrupted() {
                bail!("interrupted");
            }
            if let Some(why) = self.cannot_run(ctx, section) {
                ctx.say(format!("bench {}: skipped: {why}", section.name()));
                bench.skipped.insert(section.name(), why);
                continue;
            }
            ctx.say(format!("── bench {}", section.name()));
            let result = match section {
                Section::Build => self.build(ctx, &mut bench.figures),
                Section::Hash => self.hash(ctx, &mut bench.figures),
                Section::Sizes => self.sizes(ctx, &mut bench.figures),
                Section::Coldstart => self.coldstart(ctx, &mut bench.figures),
                Section::Throughput => self.throughput(ctx, &mut bench.figures),
                Section::Cluster => self.cluster(ctx, &mut bench.figures),
            };
            if let Err(e) = result {
                ctx.say(format!("bench {}: failed: {e:#}", section.name()));
                bench
                    .skipped
                    .insert(section.name(), format!("failed: {e:#}"));
                failed.push(section.name());
            }
        }
        let dir = ctx.target_dir();
        std::fs::create_dir_all(&dir)?;
        let json = dir.join("bench.json");
        std::fs::write(&json, serde_json::to_string_pretty(&bench)? + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        let md = markdown(&bench);
        std::fs::write(dir.join("bench.md"), &md)?;
        if ctx.global.json {
            ctx.show(serde_json::to_string_pretty(&bench)?);
        } else {
            ctx.show(md);
        }
        ctx.say(format!(
            "bench: {} and {}",
            ctx.rel(&json).display(),
            ctx.rel(&dir.join("bench.md")).display()
        ));
        if !failed.is_empty() {
            bail!("bench sections failed: {}", failed.join(", "));
        }
        Ok(())
    }

    /// Why a section cannot run here, if it cannot.
    fn cannot_run(&self, ctx: &Ctx, section: Section) -> Option<String> {
        match section {
            Section::Coldstart | Section::Throughput if self.database_url.is_none() => Some(
                "no PostgreSQL for the stack: --database-url URL (or XTASK_SMOKE_DATABASE_URL)"
                    .into(),
            ),
            Section::Cluster if ctx.global.context.is_none() => {
                Some("no cluster: --context NAME (and --registry for a registry)".into())
            }
            _ => None,
        }
    }

    // -----------------------------------------------------------------------------------
    // build

    fn build(&self, ctx: &Ctx, out: &mut Vec<Figure>) -> Result<()> {
        let xtask = xtask_cmd(ctx, &["build", "--target", "host", "--network", "host"]);
        ctx.say("warm-up: building whatever is not built yet (not measured)");
        ctx.run_ok(&xtask.clone().timeout(Duration::from_secs(3600)))?;
        let dockers = docker_builds(ctx)?;
        for d in &dockers {
            ctx.run_ok(d)?;
        }
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for round in 1..=self.rounds {
            let (t, o) = timed(|| ctx.run_ok(&xtask));
            let o = o?;
            let cached = o.stderr.matches(" cached (").count();
            if cached != dockers.len() {
                bail!(
                    "the no-op build was not a no-op (round {round}):\n{}",
                    o.stderr
                );
            }
            ours.push(t);
            let (t, r) = timed(|| dockers.iter().try_for_each(|d| ctx.run_ok(d).map(drop)));
            r?;
            theirs.push(t);
            ctx.say(format!(
                "round {round}: xtask {:.3}s, docker build {:.3}s",
                ours[round - 1],
                theirs[round - 1]
            ));
        }
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| b / a).collect();
        let docker_cmd = dockers
            .iter()
            .map(|d| relative(ctx, &d.display()))
            .collect::<Vec<_>>()
            .join(" && ");
        let ours_cmd = format!(
            "{}{} build --target host --network host",
            base_env(ctx),
            relative(ctx, &cluster_suite::own_binary())
        );
        out.push(figure(
            Section::Build,
            "no-op build, all three images cached (whole process)",
            &ours,
            "s",
            &ours_cmd,
        ));
        out.push(figure(
            Section::Build,
            "cached `docker build` of the same three images (classic builder)",
            &theirs,
            "s",
            &docker_cmd,
        ));
        let mut ratio = figure(
            Section::Build,
            "no-op build speed-up over the cached `docker build`s (median of the pairs' ratios)",
            &ratios,
            "×",
            "both commands above, alternated",
        );
        ratio.note = Some(format!("{} pairs", ratios.len()));
        out.push(ratio);
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // hash

    fn hash(&self, ctx: &Ctx, out: &mut Vec<Figure>) -> Result<()> {
        let inputs = BuildInputs::new(&ctx.env, &[], &[])?;
        let list_dir = ctx.target_dir().join("bench-files");
        std::fs::create_dir_all(&list_dir)?;
        for s in SERVICES {
            let Some(first) = services::content_digest(&ctx.root, &s, &inputs)? else {
                continue;
            };
            // The same bytes: the Dockerfile, then every file the context sends (the Dockerfile
            // again when it is one of them, as the tag hashes it).
            let mut files = vec![PathBuf::from(s.dockerfile)];
            for f in crate::context_hash::context_files(&s.context_dir(&ctx.root))? {
                files.push(Path::new(s.context).join(f));
            }
            let list = list_dir.join(format!("{}.txt", s.name));
            std::fs::write(
                &list,
                files
                    .iter()
                    .map(|f| f.display().to_string() + "\n")
                    .collect::<String>(),
            )?;
            let sha = crate::tools::sha256sum(&ctx.root, &files);
            let process = xtask_cmd(ctx, &["hash", s.name]);
            let (mut inproc, mut whole, mut shas) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..self.rounds {
                let (t, d) = timed(|| services::content_digest(&ctx.root, &s, &inputs));
                if d?.map(|d| d.digest) != Some(first.digest.clone()) {
                    bail!("the {} context changed while it was measured", s.name);
                }
                inproc.push(t * 1000.0);
                let (t, r) = timed(|| ctx.run_ok(&sha));
                r?;
                shas.push(t * 1000.0);
                let (t, r) = timed(|| ctx.run_ok(&process));
                r?;
                whole.push(t * 1000.0);
            }
            let bytes = first.bytes
                + std::fs::metadata(s.dockerfile_path(&ctx.root))
                    .map(|m| m.len())
                    .unwrap_or(0);
            let what = format!(
                "{} files, {:.2} MB, {} directories read",
                first.files,
                bytes as f64 / 1e6,
                first.dirs
            );
            let mut f = figure(
                Section::Hash,
                &format!("{} context hash, in process", s.name),
                &inproc,
                "ms",
                &format!("{}cargo xtask hash {}", base_env(ctx), s.name),
            );
            f.note = Some(what);
            out.push(f);
            out.push(figure(
                Section::Hash,
                &format!("{}: `xtask hash {}`, whole process", s.name, s.name),
                &whole,
                "ms",
                &format!(
                    "{}{} hash {}",
                    base_env(ctx),
                    relative(ctx, &cluster_suite::own_binary()),
                    s.name
                ),
            ));
            out.push(figure(
                Section::Hash,
                &format!("{}: `sha256sum` of the same bytes, whole process", s.name),
                &shas,
                "ms",
                &format!("sha256sum $(cat {})", ctx.rel(&list).display()),
            ));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // sizes

    fn sizes(&self, ctx: &Ctx, out: &mut Vec<Figure>) -> Result<()> {
        let mut report = Report::new();
        images::Args::host_network().measure(ctx, &mut report)?;
        let cmd = format!(
            "{}cargo xtask images --target host --network host",
            base_env(ctx)
        );
        for row in &report.images {
            let mb = |b: Option<u64>| b.map(|b| b as f64 / 1e6);
            if let Some(total) = mb(row.size) {
                out.push(single(
                    Section::Sizes,
                    &format!("{} image, total", row.service),
                    total,
                    "MB",
                    &cmd,
                ));
            }
            if let Some(own) = mb(row.own_size) {
                out.push(single(
                    Section::Sizes,
                    &format!("{} own layers (image minus its base)", row.service),
                    own,
                    "MB",
                    &cmd,
                ));
            }
            let estimate = report
                .gates
                .iter()
                .find(|g| g.name.starts_with(&format!("{} estimated on", row.service)));
            if let Some(g) = estimate {
                let mut f = single(Section::Sizes, &g.name, g.value, "MB", &cmd);
                f.note = Some("built on a stand-in base".into());
                out.push(f);
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // coldstart

    fn coldstart(&self, ctx: &Ctx, out: &mut Vec<Figure>) -> Result<()> {
        let db = self.database_url.as_deref().unwrap_or_default();
        let _lock = ports_lock(ctx, self.ports_lock.as_deref())?;
        let mut together: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        let mut alone: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for round in 1..=self.coldstart_rounds {
            let mut scratch = Report::new();
            let mut stack = Stack::start(ctx, Mode::Containers, &[], Some(db), &mut scratch)?;
            let result = (|| -> Result<()> {
                for (name, took) in stack.wait_healthy(ctx, Duration::from_secs(180))? {
                    together.entry(name).or_default().push(took.as_secs_f64());
                }
                // Then each image on its own: its container removed and run again while the
                // other two wait, idle.
                for service in crate::services::SERVICES {
                    let took = stack.restart(ctx, service.name, Duration::from_secs(180))?;
                    alone
                        .entry(service.name)
                        .or_default()
                        .push(took.as_secs_f64());
                }
                Ok(())
            })();
            stack.stop(ctx);
            result?;
            ctx.say(format!("cold start round {round} done"));
        }
        let command = "cargo xtask bench --only coldstart --database-url <PostgreSQL URL>";
        for (name, samples) in alone {
            let mut f = figure(
                Section::Coldstart,
                &format!("{name}: `docker run` → health 200"),
                &samples,
                "s",
                command,
            );
            f.note = Some(
                "its container started on its own, the other two running idle (removed and run again after the stack's start)".into(),
            );
            out.push(f);
        }
        for (name, samples) in together {
            let mut f = figure(
                Section::Coldstart,
                &format!("{name}: `docker run` → health 200, the three started together"),
                &samples,
                "s",
                "DATABASE_URL=<PostgreSQL URL> cargo xtask dev --containers --check",
            );
            f.note = Some(
                "as `dev --containers` starts them: on two cores each start shares the CPU with the other two".into(),
            );
            out.push(f);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // throughput

    fn throughput(&self, ctx: &Ctx, out: &mut Vec<Figure>) -> Result<()> {
        let db = self.database_url.as_deref().unwrap_or_default();
        let _lock = ports_lock(ctx, self.ports_lock.as_deref())?;
        let mut scratch = Report::new();
        let mut stack = Stack::start(ctx, Mode::Containers, &[], Some(db), &mut scratch)?;
        let mut baselines = Baselines::default();
        let result = stack
            .wait_healthy(ctx, Duration::from_secs(180))
            .and_then(|_| self.load_runs(ctx, &mut baselines, out));
        baselines.stop(ctx);
        stack.stop(ctx);
        result
    }

    fn load_runs(&self, ctx: &Ctx, baselines: &mut Baselines, out: &mut Vec<Figure>) -> Result<()> {
        let frontend = "http://127.0.0.1:3000";
        let backend = "http://127.0.0.1:8000";
        let session = crate::flow::sign_up(frontend, "http://localhost:3000", None, "xtask-bench")?;
        let result = (|| -> Result<()> {
            let cookie = session.cookie.clone();
            let token = http::request(
                "GET",
                &format!("{frontend}/api/auth/token"),
                &[("Cookie", &cookie), ("Origin", "http://localhost:3000")],
                None,
                Duration::from_secs(30),
            )?
            .json()?["token"]
                .as_str()
                .context("/api/auth/token gave no token")?
                .to_string();
            crate::process::register_secret(&token);
            let bearer = format!("Bearer {token}");
            let uid = session.user_id.clone();
            let tasks = format!("/api/{uid}/tasks");
            let mut conn = Conn::open(
                &Endpoint::Tcp("127.0.0.1:8000".into()),
                "127.0.0.1:8000",
                Duration::from_secs(30),
            )?;
            for i in 1..=50 {
                let body = format!(r#"{{"title":"bench task {i}"}}"#);
                conn.write(
                    &Request {
                        method: "POST",
                        path: &tasks,
                        headers: &[("Authorization", &bearer)],
                        body: Some(&body),
                    },
                    false,
                )?;
                let r = conn.read("POST")?;
                if r.status != 201 {
                    bail!(
                        "creating task {i}: HTTP {}: {}",
                        r.status,
                        http::excerpt(&r.body)
                    );
                }
            }
            let node = baselines.start_node(ctx)?;
            let starlette = baselines.start_starlette(ctx)?;
            let limit = Duration::from_secs(self.time_limit);
            let n = self.requests;
            let c = self.concurrency;
            let cmd = format!(
                "DATABASE_URL=<PostgreSQL URL> cargo xtask bench --only throughput --requests {n} --chat-requests {} --time-limit {} --concurrency {c} --throughput-rounds {}",
                self.chat_requests, self.time_limit, self.throughput_rounds
            );
            let chat_body = r#"{"message":"Show me all my tasks"}"#;
            let pairs: Vec<(&str, LoadTarget, &str, LoadTarget, usize)> = vec![
                (
                    "frontend GET /api/health",
                    LoadTarget::get(frontend, "/api/health", &[])?,
                    "bare Node.js http server (same image)",
                    LoadTarget::get(&node, "/", &[])?,
                    n,
                ),
                (
                    "frontend GET /tasks signed in (the 50-task page)",
                    LoadTarget::get(frontend, "/tasks", &[("Cookie", &cookie)])?,
                    "bare Node.js http server (same image)",
                    LoadTarget::get(&node, "/", &[])?,
                    n,
                ),
                (
                    "backend GET /api/{user_id}/tasks, 50 tasks, JWT",
                    LoadTarget::get(backend, &tasks, &[("Authorization", &bearer)])?,
                    "bare Starlette app under the same uvicorn (same image)",
                    LoadTarget::get(&starlette, "/", &[])?,
                    n,
                ),
                (
                    "backend POST /api/{user_id}/chat (rule agent, MCP round trip)",
                    LoadTarget::new(
                        backend,
                        "POST",
                        &format!("/api/{uid}/chat"),
                        &[("Authorization", &bearer)],
                        Some(chat_body),
                        200,
                    )?,
                    "bare Starlette app under the same uvicorn (same image)",
                    LoadTarget::get(&starlette, "/", &[])?,
                    self.chat_requests,
                ),
            ];
            // A check that the list really has the 50 tasks before it is measured.
            let list = http::request(
                "GET",
                &format!("{backend}{tasks}"),
                &[("Authorization", &bearer)],
                None,
                Duration::from_secs(30),
            )?;
            let count = list.json()?.as_array().map_or(0, Vec::len);
            if count != 50 {
                bail!("the task list has {count} tasks, not 50");
            }
            for (name, target, base_name, base, count) in pairs {
                // Each run after a tenth of its count as warm-up, not counted (a server that
                // just started, a JIT, the connections).
                let measured = |t: &LoadTarget, count: usize| {
                    run_load(t, (count / 10).clamp(1, 100), c, limit);
                    run_load(t, count, c, limit)
                };
                let (mut bs, mut ts) = (Vec::new(), Vec::new());
                for round in 1..=self.throughput_rounds {
                    let b = measured(&base, n);
                    let t = measured(&target, count);
                    ctx.say(format!(
                        "{name}, round {round}: {:.1} req/s (p95 {:.1} ms, {} ok, {} failed); {base_name}: {:.1} req/s",
                        t.rate(),
                        t.p95_ms(),
                        t.ok,
                        t.failed,
                        b.rate()
                    ));
                    if let Some(e) = &t.first_error {
                        ctx.say(format!("  first failure: {e}"));
                    }
                    bs.push(b);
                    ts.push(t);
                }
                let shares: Vec<f64> = ts
                    .iter()
                    .zip(&bs)
                    .map(|(t, b)| {
                        if b.rate() > 0.0 {
                            t.rate() / b.rate() * 100.0
                        } else {
                            0.0
                        }
                    })
                    .collect();
                out.push(load_figure(name, &ts, &cmd));
                out.push(load_figure(
                    &format!("{base_name} (beside: {name})"),
                    &bs,
                    &cmd,
                ));
                let mut share = figure(
                    Section::Throughput,
                    &format!(
                        "{name}: share of the bare server's rate (median of the rounds' ratios)"
                    ),
                    &shares,
                    "%",
                    &cmd,
                );
                share.note = Some(format!("{} rounds", shares.len()));
                out.push(share);
            }
            if let Some(note) = cpu_limits_note(&ctx.root) {
                let mut f = single(
                    Section::Throughput,
                    "CPU limits per pod (values.yaml)",
                    0.0,
                    "",
                    "helm/todo-app/values.yaml",
                );
                f.note = Some(note);
                out.push(f);
            }
            Ok(())
        })();
        let cleanup = crate::flow::delete_account(&session);
        result?;
        cleanup.context("deleting the bench's throwaway account")
    }

    // -----------------------------------------------------------------------------------
    // cluster

    fn cluster(&self, ctx: &Ctx, out: &mut Vec<Figure>) -> Result<()> {
        let context = ctx.global.context.clone().unwrap_or_default();
        let cctx = ctx.for_context(&context);
        let mut args: Vec<String> = [
            "deploy",
            "--context",
            &context,
            "--network",
            "host",
            "--no-gates",
        ]
        .map(String::from)
        .into();
        if let Some(r) = &self.registry {
            args.extend(["--registry".into(), r.clone()]);
        }
        for s in &self.set {
            args.extend(["--set".into(), s.clone()]);
        }
        let deploy = cluster_suite::xtask(ctx, &args, 20).output(crate::process::Output::Capture);
        ctx.say("warm-up: deploying whatever is not deployed yet (not measured)");
        ctx.run_ok(&deploy)?;
        let mut samples = Vec::new();
        for round in 1..=self.rounds {
            let before = cluster_suite::pod_uids(&cctx)?;
            let (t, r) = timed(|| ctx.run_ok(&deploy));
            r?;
            let (built, pushed) =
                cluster_suite::built_and_pushed(&Report::read(&ctx.target_dir())?);
            if !built.is_empty() || !pushed.is_empty() || cluster_suite::pod_uids(&cctx)? != before
            {
                bail!(
                    "round {round}: the redeploy changed something (built {built:?}, pushed {pushed:?}, or replaced pods)"
                );
            }
            ctx.say(format!("round {round}: no-op redeploy {t:.2}s"));
            samples.push(t);
        }
        let shown = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        out.push(figure(
            Section::Cluster,
            "no-op redeploy: nothing built, pushed or replaced (whole process)",
            &samples,
            "s",
            &format!("{}cargo xtask {shown}", base_env(ctx)),
        ));
        let pods = cluster_suite::restart_and_time(ctx, &cctx)?;
        let restart = format!(
            "kubectl --context {context} -n {} rollout restart deployment -l {},component=<each app service in turn>",
            crate::kube::NAMESPACE,
            crate::kube::SELECTOR
        );
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for p in pods {
            let n = by.entry(p.component.clone()).or_default();
            *n += 1;
            let total = match (p.created_to_started, p.started_to_ready) {
                (Some(a), Some(b)) => (a + b) as f64,
                _ => f64::NAN,
            };
            let mut f = single(
                Section::Cluster,
                &format!("{} pod {n}: created → Ready", p.component),
                total,
                "s",
                &restart,
            );
            f.note = Some(format!(
                "created → started {} s, started → Ready {} s (Kubernetes' timestamps, 1 s resolution){}",
                p.created_to_started.map_or("?".into(), |s| s.to_string()),
                p.started_to_ready.map_or("?".into(), |s| s.to_string()),
                p.polled
                    .map(|(probe, ready)| format!(
                        "; polled: running → started {probe:.2} s, → Ready {ready:.2} s"
                    ))
                    .unwrap_or_default()
            ));
            out.push(f);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

/// The median (the mean of the middle two for an even count); 0 for no samples.
pub fn median(samples: &[f64]) -> f64 {
    percentile_sorted(&sorted(samples), 50.0)
}

/// The nearest-rank percentile: the smallest sample with at least `p` % of the samples at
/// or below it (p95 of 20 samples is the 19th). The median averages the middle two instead.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    percentile_sorted(&sorted(samples), p)
}

fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn percentile_sorted(s: &[f64], p: f64) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    if p == 50.0 && s.len().is_multiple_of(2) {
        return (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0;
    }
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

fn figure(section: Section, name: &str, samples: &[f64], unit: &str, command: &str) -> Figure {
    Figure {
        section: section.name(),
        name: name.to_string(),
        value: median(samples),
        unit: unit.to_string(),
        p95: None,
        samples: samples.to_vec(),
        command: command.to_string(),
        note: None,
    }
}

fn single(section: Section, name: &str, value: f64, unit: &str, command: &str) -> Figure {
    figure(section, name, &[value], unit, command)
}

fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

// ---------------------------------------------------------------------------------------
// The load runner

/// One request to send over and over.
#[derive(Clone, Debug)]
pub struct LoadTarget {
    endpoint: Endpoint,
    method: String,
    /// The request's bytes, serialised once.
    wire: Vec<u8>,
    expect: u16,
    label: String,
}

impl LoadTarget {
    pub fn new(
        base: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        expect: u16,
    ) -> Result<Self> {
        let (endpoint, authority, _) = Endpoint::from_url(base)?;
        let wire = Request {
            method,
            path,
            headers,
            body,
        }
        .encode(&authority, false);
        Ok(LoadTarget {
            endpoint,
            method: method.to_string(),
            wire,
            expect,
            label: format!("{method} {base}{path}"),
        })
    }

    pub fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> Result<Self> {
        Self::new(base, "GET", path, headers, None, 200)
    }
}

/// What a load run saw.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    /// Requests answered with the expected status.
    pub ok: usize,
    /// Requests that failed (another status, a broken connection, a timeout).
    pub failed: usize,
    /// The run stopped at its time limit before the count was reached.
    pub timed_out: bool,
    pub elapsed: Duration,
    /// Each successful request's latency, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Connections opened (keep-alive reuses them).
    pub connections: usize,
    pub first_error: Option<String>,
}

impl LoadResult {
    /// Successful requests per second of the run's wall time.
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ok as f64 / self.elapsed.as_secs_f64()
        }
    }

    pub fn p95_ms(&self) -> f64 {
        percentile(&self.latencies_ms, 95.0)
    }
}

/// Sends `count` requests over `concurrency` keep-alive connections (one thread each),
/// stopping early at `limit`; a request in flight at the limit still completes.
pub fn run_load(
    target: &LoadTarget,
    count: usize,
    concurrency: usize,
    limit: Duration,
) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let result = Arc::new(Mutex::new(LoadResult::default()));
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, result, target) = (next.clone(), result.clone(), target.clone());
            std::thread::spawn(move || {
                let mut conn: Option<Conn> = None;
                let mut mine = LoadResult::default();
                loop {
                    if started.elapsed() >= limit {
                        mine.timed_out = next.load(Ordering::SeqCst) < count;
                        break;
                    }
                    if next.fetch_add(1, Ordering::SeqCst) >= count || interrupted() {
                        break;
                    }
                    let t = Instant::now();
                    let answer = (|| -> Result<http::Response> {
                        if conn.is_none() {
                            conn = Some(Conn::open(&target.endpoint, "", Duration::from_secs(30))?);
                            mine.connections += 1;
                        }
                        let c = conn.as_mut().expect("opened above");
                        c.write_bytes(&target.wire)?;
                        c.read(&target.method)
                    })();
                    match answer {
                        Ok(r) if r.status == target.expect => {
                            mine.ok += 1;
                            mine.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(r) => {
                            mine.failed += 1;
                            mine.first_error.get_or_insert_with(|| {
                                format!(
                                    "{}: HTTP {}: {}",
                                    target.label,
                                    r.status,
                                    http::excerpt(&r.body)
                                )
                            });
                        }
                        Err(e) => {
                            mine.failed += 1;
                            mine.first_error
                                .get_or_insert_with(|| format!("{}: {e:#}", target.label));
                            conn = None;
                        }
                    }
                    if conn.as_ref().is_some_and(|c| !c.reusable()) {
                        conn = None;
                    }
                }
                let mut all = result.lock().unwrap_or_else(|e| e.into_inner());
                all.ok += mine.ok;
                all.failed += mine.failed;
                all.timed_out |= mine.timed_out;
                all.connections += mine.connections;
                all.latencies_ms.extend(mine.latencies_ms);
                if all.first_error.is_none() {
                    all.first_error = mine.first_error;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let mut out = std::mem::take(&mut *result.lock().unwrap_or_else(|e| e.into_inner()));
    out.elapsed = started.elapsed();
    out
}

/// The median rate of a target's rounds, with the p95 latency over all their requests.
fn load_figure(name: &str, runs: &[LoadResult], command: &str) -> Figure {
    let rates: Vec<f64> = runs.iter().map(LoadResult::rate).collect();
    let latencies: Vec<f64> = runs.iter().flat_map(|r| r.latencies_ms.clone()).collect();
    let (ok, failed) = runs
        .iter()
        .fold((0, 0), |(o, f), r| (o + r.ok, f + r.failed));
    let limited = runs.iter().filter(|r| r.timed_out).count();
    Figure {
        section: Section::Throughput.name(),
        name: name.to_string(),
        value: median(&rates),
        unit: "req/s".into(),
        p95: Some(percentile(&latencies, 95.0)),
        samples: rates,
        command: command.to_string(),
        note: Some(format!(
            "{ok} ok, {failed} failed over {} round(s), each after a tenth of its count as warm-up; p95 over all of them{}",
            runs.len(),
            if limited > 0 {
                format!("; {limited} round(s) stopped at the time limit")
            } else {
                String::new()
            }
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Baselines: plain servers in the stack's own images

/// The bare servers started for the throughput comparison; stopped (and removed) at the end.
#[derive(Default)]
struct Baselines {
    running: Vec<(String, Box<dyn crate::process::Background>)>,
}

const NODE_BASELINE: &str = "require('http').createServer((q, s) => { s.writeHead(200, {'content-type': 'application/json'}); s.end('{\"status\":\"ok\"}') }).listen(+process.env.PORT, '127.0.0.1')";

const STARLETTE_BASELINE: &str = "import os, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def ok(request):
    return JSONResponse({'status': 'ok'})
app = Starlette(routes=[Route('/', ok)])
uvicorn.run(app, host='127.0.0.1', port=int(os.environ['PORT']), access_log=False, log_level='warning')";

impl Baselines {
    fn start_node(&mut self, ctx: &Ctx) -> Result<String> {
        let image = current_image(ctx, "frontend")?;
        self.start(
            ctx,
            "xtask-bench-node",
            image,
            vec!["node".into(), "-e".into(), NODE_BASELINE.into()],
        )
    }

    fn start_starlette(&mut self, ctx: &Ctx) -> Result<String> {
        let image = current_image(ctx, "backend")?;
        self.start(
            ctx,
            "xtask-bench-starlette",
            image,
            vec!["python".into(), "-c".into(), STARLETTE_BASELINE.into()],
        )
    }

    /// `docker run` on a free loopback port; returns its base URL once it answers.
    fn start(
        &mut self,
        ctx: &Ctx,
        name: &str,
        image: String,
        command: Vec<String>,
    ) -> Result<String> {
        let docker = Docker {
            tool: &ctx.tools.docker,
            env: &[],
        };
        ctx.run(&docker.rm_force(&[name.to_string()]))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let spec = RunSpec {
            image,
            name: Some(name.to_string()),
            command,
            env: vec![("PORT".into(), port.to_string())],
            ..Default::default()
        };
        let child = ctx.spawn(&docker.run_hardened(&spec))?;
        self.running.push((name.to_string(), child));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http::get(&format!("{url}/"), Duration::from_secs(2)) {
                if r.status == 200 {
                    return Ok(url);
                }
            }
            if Instant::now() > deadline {
                let out = self
                    .running
                    .last()
                    .map(|(_, c)| c.output())
                    .unwrap_or_default();
                bail!("the {name} baseline did not answer within 60 s:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self, ctx: &Ctx) {
        let names: Vec<String> = self.running.iter().map(|(n, _)| n.clone()).collect();
        for (_, child) in &mut self.running {
            child.stop();
        }
        self.running.clear();
        if !names.is_empty() {
            let docker = Docker {
                tool: &ctx.tools.docker,
                env: &[],
            };
            let _ = ctx.run(&docker.rm_force(&names));
        }
    }
}

/// The image `build` makes of a service now (its content tag).
fn current_image(ctx: &Ctx, service: &str) -> Result<String> {
    let s = services::select(&[service.to_string()])?[0];
    let d = services::content_digest(&ctx.root, &s, &BuildInputs::new(&ctx.env, &[], &[])?)?
        .with_context(|| format!("{service} has no Dockerfile"))?;
    Ok(format!("{}:{}", s.repository, d.tag))
}

/// What the chart's CPU limits allow each pod, beside this machine's cores.
fn cpu_limits_note(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(crate::kube::CHART).join("values.yaml")).ok()?;
    let values: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts: Vec<String> = ["frontend", "backend", "mcp"]
        .iter()
        .filter_map(|c| {
            let limit = &values["resources"][c]["limits"]["cpu"];
            let cpu = crate::kube::cpu_millis_of(limit).ok()? as f64 / 1000.0;
            Some(format!(
                "{c} {cpu} CPU ({:.0} % of this machine's {cores} cores)",
                cpu / cores as f64 * 100.0
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "per pod in the cluster: {}; the containers here had every core, so a CPU-bound rate above scales down to that share per pod (replicas add to it)",
            parts.join(", ")
        )
    })
}

// ---------------------------------------------------------------------------------------
// Commands, the machine, the report

/// This very binary with `args`, run from the repository root.
fn xtask_cmd(ctx: &Ctx, args: &[&str]) -> Cmd {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    cluster_suite::xtask(ctx, &args, 10).output(crate::process::Output::Capture)
}

/// The `docker build`s that `build` would run for the current tags (one per service with a
/// Dockerfile), on the classic builder.
fn docker_builds(ctx: &Ctx) -> Result<Vec<Cmd>> {
    let inputs = BuildInputs::new(&ctx.env, &[], &[])?;
    let app_version = services::app_version(&ctx.root)?;
    let docker = Docker {
        tool: &ctx.tools.docker,
        env: &[],
    };
    let mut out = Vec::new();
    for s in SERVICES {
        let Some(d) = services::content_digest(&ctx.root, &s, &inputs)? else {
            continue;
        };
        let image = format!("{}:{}", s.repository, d.tag);
        let spec = build::build_spec(
            ctx,
            &s,
            &inputs,
            &image,
            &d.digest,
            app_version.as_deref(),
            Some("host"),
        );
        out.push(
            docker
                .build(&spec)
                .env("DOCKER_BUILDKIT", "0")
                .cwd(&ctx.root)
                .timeout(Duration::from_secs(600)),
        );
    }
    Ok(out)
}

/// The base-image variables the measured commands saw, as a prefix for their command line.
fn base_env(ctx: &Ctx) -> String {
    ["XTASK_BASE_NODE", "XTASK_BASE_PYTHON"]
        .iter()
        .filter_map(|k| {
            ctx.env
                .get(k)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={v} "))
        })
        .collect()
}

/// A command line with the repository root taken out of its paths (it runs from the root).
fn relative(ctx: &Ctx, line: &str) -> String {
    let root = format!("{}/", ctx.root.display());
    line.replace(&root, "")
}

/// Holds `path` locked (flock) until dropped.
fn ports_lock(ctx: &Ctx, path: Option<&Path>) -> Result<Option<File>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the ports lock {}", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; the lock goes with the file.
    let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !free {
        ctx.say(format!("waiting for the ports lock {} …", path.display()));
        // SAFETY: as above, now blocking.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!(
                "locking {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(Some(file))
}

fn binary(ctx: &Ctx) -> String {
    let kind = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!("{kind} ({})", relative(ctx, &cluster_suite::own_binary()))
}

fn machine() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    format!("{host}, {cpu}").trim_end_matches(", ").to_string()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn markdown(b: &Bench) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# cargo xtask bench\n\n{} on {} ({} cores); xtask binary: {}; {} rounds per comparison, medians.\n",
        b.date, b.machine, b.cpus, b.binary, b.rounds
    );
    let mut sections: Vec<&str> = b.figures.iter().map(|f| f.section).collect();
    sections.dedup();
    for section in sections {
        let _ = writeln!(s, "## {section}\n\n| figure | median | p95 | samples | note | command |\n|---|---:|---:|---:|---|---|");
        for f in b.figures.iter().filter(|f| f.section == section) {
            let value = if f.unit.is_empty() {
                "–".to_string()
            } else {
                format!("{} {}", round_sig(f.value), f.unit)
            };
            let p95 = f
                .p95
                .map(|p| format!("{} ms", round_sig(p)))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                s,
                "| {} | {value} | {p95} | {} | {} | `{}` |",
                f.name,
                f.samples.len().max(1),
                f.note.as_deref().unwrap_or(""),
                f.command.replace('|', "\\|")
            );
        }
        s.push('\n');
    }
    if !b.skipped.is_empty() {
        s.push_str("## not measured\n\n");
        for (section, why) in &b.skipped {
            let _ = writeln!(s, "- {section}: {why}");
        }
    }
    s
}

/// Three significant digits at most: 0.0123, 1.23, 12.3, 123, 1230.
fn round_sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 95.0), 95.0);
        let twenty: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(percentile(&twenty, 95.0), 19.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert_eq!(percentile(&[1.0, 2.0], 100.0), 2.0);
    }

    #[test]
    fn dates_and_quantities() {
        assert_eq!(round_sig(0.012345), "0.0123");
        assert_eq!(round_sig(12.345), "12.3");
        assert_eq!(round_sig(1234.5), "1234");
    }

    /// A keep-alive HTTP server on a free loopback port: `status` for every request, after
    /// `delay`; counts the connections it accepts.
    fn server(status: u16, delay: Duration) -> (String, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut pending = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            pending.drain(..i + 4);
                            std::thread::sleep(delay);
                            let answer =
                                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok");
                            if s.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[test]
    fn a_load_run_sends_the_count_over_kept_alive_connections() {
        let (url, accepted) = server(200, Duration::ZERO);
        let target = LoadTarget::get(&url, "/api/health", &[]).unwrap();
        let r = run_load(&target, 300, 4, Duration::from_secs(60));
        assert_eq!((r.ok, r.failed, r.timed_out), (300, 0, false), "{r:?}");
        assert_eq!(r.latencies_ms.len(), 300);
        assert!(r.connections <= 4, "{r:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), r.connections);
        assert!(r.rate() > 0.0 && r.p95_ms() >= median(&r.latencies_ms));
    }

    #[test]
    fn failures_are_counted_with_the_first_one_named() {
        let (url, _) = server(503, Duration::ZERO);
        let target = LoadTarget::get(&url, "/x", &[]).unwrap();
        let r = run_load(&target, 20, 2, Duration::from_secs(60));
        assert_eq!((r.ok, r.failed), (0, 20), "{r:?}");
        assert!(
            r.first_error.as_deref().unwrap_or("").contains("HTTP 503"),
            "{r:?}"
        );
        // A port nobody serves: every request fails, none hangs.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let gone = LoadTarget::get(&format!("http://127.0.0.1:{port}"), "/", &[]).unwrap();
        let r = run_load(&gone, 5, 1, Duration::from_secs(60));
        assert_eq!((r.ok, r.failed), (0, 5), "{r:?}");
    }

    #[test]
    fn a_load_run_stops_at_its_time_limit() {
        let (url, _) = server(200, Duration::from_millis(100));
        let target = LoadTarget::get(&url, "/", &[]).unwrap();
        let r = run_load(&target, 10_000, 2, Duration::from_millis(300));
        assert!(r.timed_out, "{r:?}");
        assert!(r.ok < 10_000 && r.ok > 0, "{r:?}");
    }

    #[test]
    fn a_load_figure_is_the_median_round_with_the_p95_of_every_request() {
        let run = |ok: usize, secs: u64, latency: f64, timed_out: bool| LoadResult {
            ok,
            elapsed: Duration::from_secs(secs),
            latencies_ms: vec![latency; ok],
            timed_out,
            ..Default::default()
        };
        let runs = [
            run(100, 1, 1.0, false),
            run(300, 1, 2.0, false),
            run(20, 2, 50.0, true),
        ];
        let f = load_figure("x", &runs, "cmd");
        assert_eq!(f.samples, [100.0, 300.0, 10.0]);
        assert_eq!(f.value, 100.0);
        // 420 requests: the slowest 20 are the top 5 %.
        assert_eq!(f.p95, Some(2.0));
        let note = f.note.unwrap();
        assert!(
            note.starts_with("420 ok, 0 failed over 3 round(s)"),
            "{note}"
        );
        assert!(
            note.contains("1 round(s) stopped at the time limit"),
            "{note}"
        );
    }

    #[test]
    fn the_report_names_each_figure_with_its_command() {
        let b = Bench {
            date: "2026-12-01".into(),
            machine: "polyglot".into(),
            cpus: 2,
            binary: "debug (target/debug/xtask)".into(),
            rounds: 10,
            figures: vec![figure(
                Section::Build,
                "no-op build",
                &[0.01, 0.02, 0.03],
                "s",
                "target/debug/xtask build --target host",
            )],
            skipped: [("cluster", "no cluster".to_string())].into(),
        };
        let md = markdown(&b);
        assert!(
            md.contains(
                "| no-op build | 0.0200 s | – | 3 |  | `target/debug/xtask build --target host` |"
            ),
            "{md}"
        );
        assert!(md.contains("- cluster: no cluster"), "{md}");
    }
}
