//! `cargo xtask dev`: the whole app on this machine without a cluster.
//!
//! By default backend, MCP server and frontend run as child processes on loopback with the
//! embedded defaults (SQLite and PGlite under `.data/`); `--release` runs the production
//! builds (the standalone frontend); `--containers` runs the three built images on the host
//! network against PostgreSQL, which is exactly what ships, without compose. Each output line
//! is prefixed with its component; Ctrl-C or SIGTERM stops every process group started.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::build;
use crate::ctx::Ctx;
use crate::process::{interrupted, Background, Cmd, Output};
use crate::report::{Report, Status};
use crate::secrets;
use crate::services;
use crate::tools::{self, Docker, RunSpec};

#[derive(Clone, Debug, Default, clap::Args)]
pub struct Args {
    /// Run the production builds (standalone frontend) instead of `next dev`.
    #[arg(long, conflicts_with = "containers")]
    pub release: bool,
    /// Run the three built images (host networking; Linux only) against PostgreSQL from
    /// DATABASE_URL, instead of processes.
    #[arg(long)]
    pub containers: bool,
    /// Start, wait until healthy, walk the user journey once, then stop (for scripts and CI).
    #[arg(long)]
    pub check: bool,
    /// Base image override for `--containers` builds, `python=IMAGE` or `node=IMAGE`.
    #[arg(long = "base", value_name = "KIND=IMAGE")]
    pub bases: Vec<String>,
}

/// The order the stack starts in: the MCP server, the backend that calls it, then the
/// frontend in front of both. Ports and health endpoints are the services table's.
const START_ORDER: [&str; 3] = ["mcp", "backend", "frontend"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Processes { release: bool },
    Containers,
}

/// A running local stack; stopping (or dropping) it stops everything it started.
pub struct Stack {
    children: Vec<(&'static str, Box<dyn Background>)>,
    containers: Vec<String>,
    docker_env: Vec<(String, String)>,
    docker: Option<crate::tools::Tool>,
    started: Instant,
    spawned_at: BTreeMap<&'static str, Instant>,
    /// How each component was started, to start it again (`restart`).
    commands: BTreeMap<&'static str, Cmd>,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let mode = if self.containers {
            Mode::Containers
        } else {
            Mode::Processes {
                release: self.release,
            }
        };
        let mut report = Report::new();
        let mut stack = Stack::start(ctx, mode, &self.bases, None, &mut report)?;
        let healthy = stack.wait_healthy(ctx, Duration::from_secs(180));
        if let Err(e) = healthy {
            stack.stop(ctx);
            return Err(e);
        }
        let healthy_after = stack.started.elapsed();
        report.task("dev: start → all healthy", healthy_after, Status::Ok);
        ctx.say(format!(
            "\nall healthy in {:.1}s — open {} (Ctrl-C stops everything)",
            healthy_after.as_secs_f64(),
            browser_url()
        ));
        if self.check {
            let r = crate::flow::run(
                &services::local_url("frontend"),
                &browser_url(),
                None,
                false,
            );
            stack.stop(ctx);
            report.write(&ctx.env, &ctx.target_dir())?;
            let j = r.context("the user journey through the local stack failed")?;
            ctx.say(format!("journey ok: signed up, added tasks through the proxy and the chat ({} tasks seen), deleted the account", j.tasks_seen));
            return Ok(());
        }
        report.write(&ctx.env, &ctx.target_dir())?;
        let result = stack.watch(ctx);
        stack.stop(ctx);
        result
    }
}

impl Stack {
    /// `database_url` overrides DATABASE_URL (the CI smoke uses a database of its own).
    pub fn start(
        ctx: &Ctx,
        mode: Mode,
        bases: &[String],
        database_url: Option<&str>,
        report: &mut Report,
    ) -> Result<Stack> {
        for name in START_ORDER {
            ensure_port_free(name, services::service(name).port)?;
        }
        let loaded = secrets::load(&ctx.root, &ctx.env, !ctx.global.dry_run)?;
        let mut secrets: BTreeMap<String, String> = loaded
            .values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for k in ["OPENAI_BASE_URL", "OPENAI_MODEL"] {
            if let Some(v) = ctx.env.non_empty(k) {
                secrets.insert(k.to_string(), v.to_string());
            }
        }
        if let Some(db) = database_url {
            crate::process::register_secret(db);
            secrets.insert("DATABASE_URL".into(), db.to_string());
        }
        let mut stack = Stack {
            children: Vec::new(),
            containers: Vec::new(),
            docker_env: Vec::new(),
            docker: None,
            started: Instant::now(),
            spawned_at: BTreeMap::new(),
            commands: BTreeMap::new(),
        };
        let result = match mode {
            Mode::Processes { release } => stack.start_processes(ctx, release, &secrets),
            Mode::Containers => stack.start_containers(ctx, bases, &secrets, report),
        };
        if let Err(e) = result {
            stack.stop(ctx);
            return Err(e);
        }
        Ok(stack)
    }

    fn start_processes(
        &mut self,
        ctx: &Ctx,
        release: bool,
        secrets: &BTreeMap<String, String>,
    ) -> Result<()> {
        for tool in [&ctx.tools.uv, &ctx.tools.npm] {
            if !tool.found() {
                bail!(
                    "`{}` is not installed: {}",
                    tool.name,
                    if tool.name == "uv" {
                        "`pip install uv` (https://docs.astral.sh/uv/)"
                    } else {
                        "Node.js 20 with npm (https://nodejs.org/)"
                    }
                );
            }
        }
        // Installs are no-ops when nothing changed, so they run every time.
        ctx.run_ok(
            &ctx.tools
                .uv
                .in_dir(
                    &ctx.root.join("backend"),
                    &["sync", "--frozen", "--extra", "agent"],
                )
                .timeout(Duration::from_secs(900)),
        )?;
        let frontend_dir = ctx.root.join("frontend");
        let node_modules = ctx.root.join("frontend/node_modules/.package-lock.json");
        if newer(&ctx.root.join("frontend/package-lock.json"), &node_modules) {
            ctx.run_ok(
                &ctx.tools
                    .npm
                    .in_dir(&frontend_dir, &["ci", "--no-audit", "--no-fund"])
                    .timeout(Duration::from_secs(900)),
            )?;
        }
        let env = process_env(ctx, secrets);
        let bin = ctx.root.join("backend/.venv/bin");
        let with_env = |mut c: Cmd| {
            for (k, v, secret) in &env {
                c = if *secret {
                    c.secret_env(k, v)
                } else {
                    c.env(k, v)
                };
            }
            c.cwd(&ctx.root)
        };
        ctx.say("dev: running migrations");
        ctx.run_ok(
            &with_env(tools::project_program(&bin.join("todo-backend")).arg("migrate"))
                .timeout(Duration::from_secs(120)),
        )?;
        let frontend = if release {
            let server = ctx.root.join("frontend/.next/standalone/server.js");
            if !server.is_file() || sources_newer(&ctx.root.join("frontend"), &server) {
                ctx.say("dev: building the standalone frontend (next build)");
                ctx.run_ok(
                    &ctx.tools
                        .npm
                        .in_dir(&frontend_dir, &["run", "build"])
                        .timeout(Duration::from_secs(1200)),
                )?;
            }
            // The image's entry point: server.js with liveness answered in front of Next
            // (`npm run build` puts runtime/ beside server.js).
            let entry = ctx.root.join("frontend/.next/standalone/runtime/serve.mjs");
            ctx.tools.node.cmd().arg(entry.display().to_string())
        } else {
            let next = ctx.root.join("frontend/node_modules/.bin/next");
            tools::project_program(&next).args([
                "dev",
                "frontend",
                "--port",
                &port("frontend"),
                "--hostname",
                "127.0.0.1",
            ])
        };
        let commands = [
            (
                "mcp",
                tools::project_program(&bin.join("todo-mcp")).args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port("mcp"),
                ]),
            ),
            (
                "backend",
                tools::project_program(&bin.join("todo-backend")).args([
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port("backend"),
                ]),
            ),
            (
                "frontend",
                frontend
                    .env("PORT", port("frontend"))
                    .env("HOSTNAME", "127.0.0.1")
                    .env("NEXT_TELEMETRY_DISABLED", "1"),
            ),
        ];
        for (name, cmd) in commands {
            self.spawn(ctx, name, with_env(cmd))?;
        }
        Ok(())
    }

    fn start_containers(
        &mut self,
        ctx: &Ctx,
        bases: &[String],
        secrets: &BTreeMap<String, String>,
        report: &mut Report,
    ) -> Result<()> {
        if !cfg!(target_os = "linux") {
            bail!("`dev --containers` needs host networking, which Docker offers on Linux only; use `cargo xtask dev --release`, or `cargo xtask deploy` for minikube");
        }
        let Some(db) = secrets
            .get("DATABASE_URL")
            .filter(|u| u.starts_with("postgres"))
        else {
            bail!(
                "`dev --containers` needs DATABASE_URL set to a PostgreSQL URL: the images run with a read-only root filesystem, so the embedded SQLite and PGlite have nowhere to write.\nfix: DATABASE_URL=postgresql://user@127.0.0.1:5432/todo cargo xtask dev --containers"
            );
        };
        let args = build::Args {
            target: Some(build::Target::Host),
            network: Some("host".into()),
            bases: bases.to_vec(),
            ..Default::default()
        };
        let (target, built) = args.build(ctx, report)?;
        let image = |svc: &str| -> Result<String> {
            built
                .iter()
                .find(|b| b.service.name == svc)
                .map(|b| b.image.clone())
                .with_context(|| format!("no {svc} image: its Dockerfile is missing"))
        };
        self.docker = Some(ctx.tools.docker.clone());
        self.docker_env = target.env.clone();
        let docker_env = target.env.clone();
        let docker = Docker {
            tool: &ctx.tools.docker,
            env: &docker_env,
        };
        let mut env = local_env();
        env.push((
            "LOG_LEVEL".into(),
            ctx.env.get("LOG_LEVEL").unwrap_or("info").to_string(),
        ));
        if let Some(m) = secrets.get("OPENAI_MODEL") {
            env.push(("OPENAI_MODEL".into(), m.clone()));
        }
        let mut secret_env = vec![
            ("DATABASE_URL".to_string(), db.clone()),
            ("AUTH_DATABASE_URL".to_string(), db.clone()),
            (
                "BETTER_AUTH_SECRET".to_string(),
                secrets["BETTER_AUTH_SECRET"].clone(),
            ),
            (
                "MCP_SERVICE_TOKEN".to_string(),
                secrets["MCP_SERVICE_TOKEN"].clone(),
            ),
        ];
        for k in ["OPENAI_API_KEY", "OPENAI_BASE_URL"] {
            if let Some(v) = secrets.get(k) {
                secret_env.push((k.to_string(), v.clone()));
            }
        }
        ctx.say("dev: running migrations from the backend image");
        let migrate = RunSpec {
            image: image("backend")?,
            command: vec!["todo-backend".into(), "migrate".into()],
            env: env.clone(),
            secret_env: secret_env.clone(),
            ..Default::default()
        };
        ctx.run_ok(
            &docker
                .run_hardened(&migrate)
                .timeout(Duration::from_secs(180)),
        )?;
        for name in START_ORDER {
            let port = services::service(name).port;
            let container = format!("todo-dev-{name}");
            // A container left by a killed run would hold the name.
            ctx.run(&docker.rm_force(std::slice::from_ref(&container)))?;
            let mut e = env.clone();
            e.push(("PORT".into(), port.to_string()));
            let spec = RunSpec {
                image: image(name)?,
                name: Some(container.clone()),
                env: e,
                secret_env: secret_env.clone(),
                tmpfs: if name == "frontend" {
                    vec!["/app/.next/cache".into()]
                } else {
                    vec![]
                },
                ..Default::default()
            };
            self.containers.push(container);
            self.spawn(ctx, name, docker.run_hardened(&spec))?;
        }
        Ok(())
    }

    /// Stops one component and starts it again the same way while the others keep running;
    /// returns how long it took from its start to its health answering 200 (the bench's cold
    /// start of one image).
    pub fn restart(
        &mut self,
        ctx: &Ctx,
        name: &'static str,
        timeout: Duration,
    ) -> Result<Duration> {
        let cmd = self
            .commands
            .get(name)
            .cloned()
            .with_context(|| format!("{name} was not started by this stack"))?;
        if let Some(i) = self.children.iter().position(|(n, _)| *n == name) {
            let (_, mut child) = self.children.remove(i);
            child.stop();
        }
        let container = format!("todo-dev-{name}");
        if let (true, Some(tool)) = (self.containers.contains(&container), &self.docker) {
            let docker = Docker {
                tool,
                env: &self.docker_env,
            };
            ctx.run(&docker.rm_force(std::slice::from_ref(&container)))?;
        }
        self.spawn(ctx, name, cmd)?;
        let times = self.wait_healthy_of(ctx, &[name], timeout)?;
        Ok(times.first().map(|(_, t)| *t).unwrap_or_default())
    }

    fn spawn(&mut self, ctx: &Ctx, name: &'static str, cmd: Cmd) -> Result<()> {
        self.commands.insert(name, cmd.clone());
        let console = ctx.console.clone();
        let cmd = cmd
            .output(Output::Stream)
            .on_line(move |line| console.err(&format!("{name:>8} | {line}\n")));
        self.spawned_at.insert(name, Instant::now());
        let child = ctx
            .spawn(&cmd)
            .with_context(|| format!("starting {name}"))?;
        self.children.push((name, child));
        Ok(())
    }

    /// Waits for every health endpoint, polling all of them in turn so each component's
    /// spawn → healthy time is its own (the container-level cold start).
    pub fn wait_healthy(
        &mut self,
        ctx: &Ctx,
        timeout: Duration,
    ) -> Result<Vec<(&'static str, Duration)>> {
        self.wait_healthy_of(ctx, &START_ORDER, timeout)
    }

    fn wait_healthy_of(
        &mut self,
        ctx: &Ctx,
        names: &[&'static str],
        timeout: Duration,
    ) -> Result<Vec<(&'static str, Duration)>> {
        if ctx.global.dry_run {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<(&'static str, String)> = names
            .iter()
            .map(|name| {
                let url = services::local_url(name) + services::service(name).health;
                (*name, url)
            })
            .collect();
        let mut times = Vec::new();
        while !pending.is_empty() {
            if interrupted() {
                bail!("interrupted");
            }
            let mut still = Vec::new();
            for (name, url) in pending {
                if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| *n == name) {
                    if !child.alive() {
                        bail!(
                            "{name} exited before it was healthy; its last output:\n{}",
                            tail(&child.output(), 30)
                        );
                    }
                }
                match crate::http::get(&url, Duration::from_secs(2)) {
                    Ok(r) if r.status == 200 => {
                        let since = self
                            .spawned_at
                            .get(name)
                            .map(|t| t.elapsed())
                            .unwrap_or_default();
                        ctx.say(format!(
                            "dev: {name} healthy ({url}, {:.2}s after start)",
                            since.as_secs_f64()
                        ));
                        times.push((name, since));
                    }
                    _ if Instant::now() > deadline => bail!(
                        "{name} did not answer 200 at {url} within {}s",
                        timeout.as_secs()
                    ),
                    _ => still.push((name, url)),
                }
            }
            pending = still;
            if !pending.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(times)
    }

    /// Blocks until Ctrl-C / SIGTERM or until a component exits (an error naming it).
    fn watch(&mut self, _ctx: &Ctx) -> Result<()> {
        loop {
            if interrupted() {
                return Ok(());
            }
            for (name, child) in &mut self.children {
                if !child.alive() {
                    bail!(
                        "{name} stopped; its last output:\n{}",
                        tail(&child.output(), 30)
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops every process group and removes the containers started.
    pub fn stop(&mut self, ctx: &Ctx) {
        for (_, child) in self.children.iter_mut().rev() {
            child.stop();
        }
        self.children.clear();
        if !self.containers.is_empty() {
            if let Some(tool) = &self.docker {
                let _ = ctx.run(
                    &Docker {
                        tool,
                        env: &self.docker_env,
                    }
                    .rm_force(&self.containers),
                );
            }
            self.containers.clear();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut() {
            child.stop();
        }
    }
}

fn port(name: &str) -> String {
    services::service(name).port.to_string()
}

/// Where a browser on this machine opens the app (better-auth's base URL locally).
fn browser_url() -> String {
    format!("http://localhost:{}", services::service("frontend").port)
}

/// How the local services find each other (the contract's local defaults), processes and
/// containers alike: all on this machine's loopback.
fn local_env() -> Vec<(String, String)> {
    let frontend = services::local_url("frontend");
    vec![
        ("BETTER_AUTH_URL".into(), browser_url()),
        ("BACKEND_URL".into(), services::local_url("backend")),
        ("AUTH_JWKS_URL".into(), format!("{frontend}/api/auth/jwks")),
        (
            "MCP_SERVER_URL".into(),
            format!("{}/mcp", services::local_url("mcp")),
        ),
        // The API's interactive docs (/docs, /openapi.json, /redoc) are for developers: only
        // `dev` serves them, never a deployment.
        ("API_DOCS".into(), "1".into()),
    ]
}

/// The environment of the local processes: the contract's local defaults, secrets marked.
fn process_env(ctx: &Ctx, secrets: &BTreeMap<String, String>) -> Vec<(String, String, bool)> {
    let data = ctx.root.join(".data");
    let mut env: Vec<(String, String, bool)> = local_env()
        .into_iter()
        .map(|(k, v)| (k, v, false))
        .collect();
    // The standalone server changes into its own folder; keep PGlite's data in .data/.
    env.push((
        "AUTH_DATA_DIR".into(),
        data.join("auth").display().to_string(),
        false,
    ));
    for (k, v) in secrets {
        if k != "POSTGRES_PASSWORD" {
            env.push((k.clone(), v.clone(), true));
        }
    }
    if let Some(db) = secrets.get("DATABASE_URL") {
        env.push(("AUTH_DATABASE_URL".into(), db.clone(), true));
    }
    env
}

/// Fails with the process holding the port when it can tell.
pub fn ensure_port_free(name: &str, port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(_) => {
            let holder = port_holder(port)
                .map(|h| format!(" by {h}"))
                .unwrap_or_default();
            bail!("port {port} (for {name}) is already in use{holder}; stop that process, or a running `cargo xtask dev`, first")
        }
    }
}

/// `pid N (command)` of the process listening on a TCP port, from /proc (Linux).
pub fn port_holder(port: u16) -> Option<String> {
    let hex = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state 0A = LISTEN, inode
            if f.len() > 9 && f[1].ends_with(&hex) && f[3] == "0A" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for proc_dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = proc_dir.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_dir.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| target.to_string_lossy() == *i) {
                    let comm =
                        std::fs::read_to_string(proc_dir.path().join("comm")).unwrap_or_default();
                    return Some(format!("pid {pid} ({})", comm.trim()));
                }
            }
        }
    }
    None
}

fn newer(a: &Path, b: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (m(a), m(b)) {
        (Some(x), Some(y)) => x > y,
        (_, None) => true,
        _ => false,
    }
}

/// Any frontend source newer than the build output (node_modules and .next excluded).
fn sources_newer(dir: &Path, output: &Path) -> bool {
    let Some(built) = std::fs::metadata(output).and_then(|m| m.modified()).ok() else {
        return true;
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name == "node_modules"
                || name == ".next"
                || name == ".data"
                || name.starts_with('.') && name != ".env"
            {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
            {
                return true;
            }
        }
    }
    false
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_names_its_holder() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = ensure_port_free("backend", port).unwrap_err().to_string();
        assert!(
            err.contains(&format!("port {port} (for backend) is already in use")),
            "{err}"
        );
        if Path::new("/proc/net/tcp").exists() {
            assert!(
                err.contains(&format!("pid {}", std::process::id())),
                "the holder is this test process: {err}"
            );
        }
        drop(l);
        ensure_port_free("backend", port).unwrap();
    }

    #[test]
    fn newer_compares_mtimes_and_treats_missing_output_as_stale() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        std::fs::write(&a, "x").unwrap();
        assert!(newer(&a, &d.path().join("missing")));
        assert!(!newer(&d.path().join("missing"), &a));
    }
}
