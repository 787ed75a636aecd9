//! `cargo xtask`: the project's build, deploy and test tasks.
//!
//! [`run`] parses the command line, anchors to the repository root and dispatches; each task
//! is one module owning its flags and its `run`. Everything outside the process (the
//! environment, the commands run, where output goes) comes in as arguments: the binary
//! (`main.rs`) passes the real ones, the integration tests in-process fakes.

mod bench;
mod build;
mod cli;
mod cluster;
mod cluster_suite;
mod context_hash;
mod ctx;
mod deliver;
mod deploy;
mod dev;
mod diagnose;
mod dockerignore;
mod doctor;
mod down;
mod flow;
mod guide;
mod hash;
mod http;
mod images;
mod kube;
mod lint;
mod lint_secrets;
mod logs;
pub mod process;
mod render;
mod report;
mod secrets;
mod services;
mod setup;
mod smoke;
mod stability;
mod status;
mod test;
mod tools;
mod up;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Task};
use crate::ctx::Ctx;
pub use crate::ctx::{Console, Env};
pub use crate::process::Runner;

/// A task that fails with a specific exit code (the doctor's stable codes, a failed gate).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// One run of the xtask: `args` as typed (the program name first), the environment it reads,
/// the runner for every external command, and where its output goes. Returns the exit code.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: Env,
    runner: Box<dyn Runner>,
    console: Arc<Console>,
) -> u8 {
    let cli = match parse(args, &env, console.is_process()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code() as u8;
            if console.is_process() {
                // clap's own printing: help and version on stdout, errors on stderr, colours
                // on a terminal.
                let _ = e.print();
            } else if e.use_stderr() {
                console.err(&e.render().to_string());
            } else {
                console.out(&e.render().to_string());
            }
            return code;
        }
    };
    let root = root(&env);
    // Before any command runs: every secret this machine holds is hidden from every task's
    // output, logs and bundles, not only from the tasks that load the secrets.
    secrets::register_known(&root, &env);
    let ctx = Ctx::new(root, cli.global, env, runner, console);
    let result = match cli.task {
        Task::Doctor(a) => a.run(&ctx),
        Task::Hash(a) => a.run(&ctx),
        Task::Build(a) => a.run(&ctx),
        Task::Bench(a) => a.run(&ctx),
        Task::Images(a) => a.run(&ctx),
        Task::Test(a) => a.run(&ctx),
        Task::Render(a) => a.run(&ctx),
        Task::Lint(a) => a.run(&ctx),
        Task::Up(a) => a.run(&ctx),
        Task::Deploy(a) => a.run(&ctx),
        Task::Diagnose(a) => a.run(&ctx),
        Task::Smoke(a) => a.run(&ctx),
        Task::Stability(a) => a.run(&ctx),
        Task::Status(a) => a.run(&ctx),
        Task::Logs(a) => a.run(&ctx),
        Task::Down(a) => a.run(&ctx),
        Task::Dev(a) => a.run(&ctx),
        Task::Setup(a) => a.run(&ctx),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return *code;
            }
            ctx.say(format!("error: {}", process::redact(&format!("{e:#}"))));
            1
        }
    }
}

/// The repository the xtask works on: where this crate lives, never the caller's cwd.
/// `XTASK_ROOT` points the integration tests at a fixture repository.
pub fn root(env: &Env) -> PathBuf {
    env.get("XTASK_ROOT").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the repo")
            .to_path_buf()
    })
}

/// The command line. clap reads the flags' `env = …` variables from the process; when the
/// environment is not the process's (an in-process run) those reads are turned off and a
/// variable `env` sets becomes the flag's default instead, so nothing of the caller's shell
/// leaks in. (Such a value then does not count as given: a conflict between two variables
/// is only reported by the binary.)
fn parse(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &Env,
    process_env: bool,
) -> Result<Cli, clap::Error> {
    let mut cmd = Cli::command();
    if !process_env {
        cmd = from_map(cmd, env);
    }
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn from_map(cmd: clap::Command, env: &Env) -> clap::Command {
    let cmd = cmd.mut_args(|a| {
        let Some(var) = a.get_env().map(|v| v.to_string_lossy().into_owned()) else {
            return a;
        };
        let a = a.env(None);
        match env.get(&var) {
            Some(v) => a.default_value(v.to_string()),
            None => a,
        }
    });
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names.into_iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |s| from_map(s, env))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(env: &[(&str, &str)], args: &[&str]) -> cli::Global {
        let env: Env = env.iter().copied().collect();
        let argv = ["xtask"].iter().chain(args).chain(&["status"]).copied();
        parse(argv, &env, false).unwrap().global
    }

    #[test]
    fn an_in_process_command_line_reads_its_variables_from_the_map_only() {
        // Whatever the shell running the tests holds, only the map counts.
        let bare = global(&[], &[]);
        assert_eq!((bare.profile.as_str(), bare.context), ("minikube", None));
        let set = global(
            &[
                ("XTASK_MINIKUBE_PROFILE", "other"),
                ("XTASK_CONTEXT", "kind-x"),
            ],
            &[],
        );
        assert_eq!(set.profile, "other");
        assert_eq!(set.context.as_deref(), Some("kind-x"));
        // A flag still wins over the variable.
        assert_eq!(
            global(&[("XTASK_CONTEXT", "kind-x")], &["--context", "c"])
                .context
                .as_deref(),
            Some("c")
        );
    }
}
