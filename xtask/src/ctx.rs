//! What every task gets: the repository root, the global flags, the runner, and how to talk
//! to the user (plain lines when piped, progress on a terminal, JSON for machines).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    runner: std::sync::Arc<dyn Runner>,
    /// `CI=true`: a suite whose tool is missing fails instead of being skipped.
    pub ci: bool,
    /// What `minikube status` and `profile list` said of the profile, read once per task
    /// (they take a second or more each); see `cluster::profile_view`.
    pub(crate) profile_seen: std::sync::Mutex<Option<crate::cluster::ProfileView>>,
}

impl Ctx {
    pub fn new(root: PathBuf, global: Global, runner: Box<dyn Runner>) -> Self {
        let ci = std::env::var("CI")
            .map(|v| !v.is_empty() && v != "false" && v != "0")
            .unwrap_or(false);
        let tools = Tools::resolve(&root);
        Ctx {
            root,
            global,
            tools,
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
            runner: self.runner.clone(),
            ci: self.ci,
            profile_seen: Default::default(),
        }
    }

    /// Run a command. Under `--dry-run` a mutating command is printed, not run, and reported
    /// as a success with empty output; queries still run so the plan reflects reality.
    pub fn run(&self, cmd: &Cmd) -> Result<Outcome> {
        if self.global.dry_run && cmd.mutates {
            println!("would run: {}", cmd.display());
            return Ok(Outcome::ok(""));
        }
        if self.global.verbose > 0 {
            eprintln!("$ {}", cmd.display());
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
            eprintln!("$ {} &", cmd.display());
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
        !self.global.no_progress && !self.global.json && !self.ci && std::io::stderr().is_terminal()
    }

    /// Status lines go to stderr so `--json` stdout stays clean.
    pub fn say(&self, line: impl AsRef<str>) {
        eprintln!("{}", line.as_ref());
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
