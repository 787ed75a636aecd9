//! What every task gets: the repository root, the global flags, the environment it reads,
//! the runner, and how to talk to the user (plain lines when piped, progress on a terminal,
//! JSON for machines).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Global;
use crate::process::{Background, Cmd, Outcome, Runner};
use crate::tools::Tools;

pub struct Ctx {
    pub root: PathBuf,
    pub global: Global,
    pub tools: Tools,
    /// The environment variables the tasks read (never `std::env` directly).
    pub env: Env,
    /// Where the xtask's own output goes.
    pub console: Arc<Console>,
    runner: std::sync::Arc<dyn Runner>,
    /// `CI=true`: a suite whose tool is missing fails instead of being skipped.
    pub ci: bool,
    /// What `minikube status` and `profile list` said of the profile, read once per task
    /// (they take a second or more each); see `cluster::profile_view`.
    pub(crate) profile_seen: std::sync::Mutex<Option<crate::cluster::ProfileView>>,
}

impl Ctx {
    pub fn new(
        root: PathBuf,
        global: Global,
        env: Env,
        runner: Box<dyn Runner>,
        console: Arc<Console>,
    ) -> Self {
        let ci = env
            .get("CI")
            .is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        let tools = Tools::resolve(&root, &env);
        Ctx {
            root,
            global,
            tools,
            env,
            console,
            runner: runner.into(),
            ci,
            profile_seen: Default::default(),
        }
    }

    /// The same context with tools resolved again (after `setup` installed some).
    pub fn with_tools(&self, tools: Tools) -> Ctx {
        Ctx {
            root: self.root.clone(),
            global: self.global.clone(),
            tools,
            env: self.env.clone(),
            console: self.console.clone(),
            runner: self.runner.clone(),
            ci: self.ci,
            profile_seen: Default::default(),
        }
    }

    /// The same context aimed at a kube context (`--context NAME`) instead of minikube.
    pub fn for_context(&self, name: &str) -> Ctx {
        let mut global = self.global.clone();
        global.context = Some(name.to_string());
        Ctx {
            root: self.root.clone(),
            global,
            tools: self.tools.clone(),
            env: self.env.clone(),
            console: self.console.clone(),
            runner: self.runner.clone(),
            ci: self.ci,
            profile_seen: Default::default(),
        }
    }

    /// Run a command. Under `--dry-run` a mutating command is printed, not run, and reported
    /// as a success with empty output; queries still run so the plan reflects reality.
    pub fn run(&self, cmd: &Cmd) -> Result<Outcome> {
        if self.global.dry_run && cmd.mutates {
            self.show(format!("would run: {}", cmd.display()));
            return Ok(Outcome::ok(""));
        }
        if self.global.verbose > 0 {
            self.say(format!("$ {}", cmd.display()));
        }
        self.runner.run(cmd)
    }

    /// Run and require exit 0; the error carries the command, its output tail and the log.
    pub fn run_ok(&self, cmd: &Cmd) -> Result<Outcome> {
        let out = self.run(cmd)?;
        if !out.success() {
            anyhow::bail!("{}", failure_message(cmd, &out));
        }
        Ok(out)
    }

    pub fn spawn(&self, cmd: &Cmd) -> Result<Box<dyn Background>> {
        if self.global.verbose > 0 {
            self.say(format!("$ {} &", cmd.display()));
        }
        self.runner.spawn(cmd)
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target").join("xtask")
    }

    /// A progress display for one long step: a spinner on a terminal, nothing otherwise
    /// (callers print plain lines themselves).
    pub fn spinner(&self, msg: &str) -> Option<ProgressBar> {
        if !self.interactive() {
            return None;
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                .expect("static template"),
        );
        pb.set_prefix(msg.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        Some(pb)
    }

    /// Progress bars only on a terminal, never in CI, JSON mode or with `--no-progress`.
    pub fn interactive(&self) -> bool {
        !self.global.no_progress
            && !self.global.json
            && !self.ci
            && self.console.stderr_is_terminal()
    }

    /// Status lines go to stderr so `--json` stdout stays clean.
    pub fn say(&self, line: impl AsRef<str>) {
        self.console.err(&format!("{}\n", line.as_ref()));
    }

    /// A line of the task's result on stdout (a report, JSON, a URL, the dry-run plan).
    pub fn show(&self, line: impl AsRef<str>) {
        self.console.out(&format!("{}\n", line.as_ref()));
    }

    pub fn rel<'a>(&self, p: &'a Path) -> &'a Path {
        p.strip_prefix(&self.root).unwrap_or(p)
    }
}

pub fn failure_message(cmd: &Cmd, out: &Outcome) -> String {
    let code = out
        .code
        .map(|c| c.to_string())
        .unwrap_or_else(|| "a signal".into());
    let log = out
        .log
        .as_ref()
        .map(|p| format!("\nfull log: {}", p.display()))
        .unwrap_or_default();
    format!(
        "`{}` failed (exit {code}):\n{}{log}",
        cmd.display(),
        out.tail(40)
    )
}

/// The environment variables the xtask reads, snapshot once: the process's own in the
/// binary, a test's map when the xtask runs in-process.
#[derive(Clone, Debug, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process's environment (variables that are not UTF-8 are read lossily).
    pub fn from_process() -> Self {
        Env(std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect())
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// Set and not empty: how most of the xtask's variables count as given.
    pub fn non_empty(&self, k: &str) -> Option<&str> {
        self.get(k).filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, k: impl Into<String>, v: impl Into<String>) {
        self.0.insert(k.into(), v.into());
    }

    pub fn remove(&mut self, k: &str) {
        self.0.remove(k);
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env(iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }
}

type Sink = Mutex<Box<dyn Write + Send>>;

/// Where the xtask's own output goes and who may answer a question: the process's stdout,
/// stderr and terminal in the binary; buffers and nobody when a test runs it in-process.
pub struct Console {
    out: Sink,
    err: Sink,
    /// The process's own streams, terminal checks and stdin.
    real: bool,
}

impl Console {
    pub fn std() -> Self {
        Console {
            out: Mutex::new(Box::new(std::io::stdout())),
            err: Mutex::new(Box::new(std::io::stderr())),
            real: true,
        }
    }

    /// Output into `out` and `err`; never a terminal, nobody to answer questions.
    pub fn capture(out: impl Write + Send + 'static, err: impl Write + Send + 'static) -> Self {
        Console {
            out: Mutex::new(Box::new(out)),
            err: Mutex::new(Box::new(err)),
            real: false,
        }
    }

    /// Whether this console is the process's own (clap prints its own messages there).
    pub fn is_process(&self) -> bool {
        self.real
    }

    /// Text on stdout, as given (no newline added).
    pub fn out(&self, text: &str) {
        write_to(&self.out, text);
    }

    /// Text on stderr, as given (no newline added).
    pub fn err(&self, text: &str) {
        write_to(&self.err, text);
    }

    pub fn stderr_is_terminal(&self) -> bool {
        self.real && std::io::stderr().is_terminal()
    }

    /// Someone could answer a question: stdin and stderr are a terminal.
    pub fn can_ask(&self) -> bool {
        self.real && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    pub fn stdin_is_terminal(&self) -> bool {
        self.real && std::io::stdin().is_terminal()
    }

    /// One line typed by the user; an error where nobody can type.
    pub fn read_line(&self) -> Result<String> {
        if !self.real {
            anyhow::bail!("no terminal to read an answer from");
        }
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(answer)
    }
}

fn write_to(sink: &Sink, text: &str) {
    let mut w = sink.lock().unwrap_or_else(|e| e.into_inner());
    let _ = w.write_all(text.as_bytes());
    let _ = w.flush();
}
