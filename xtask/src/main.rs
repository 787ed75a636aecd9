//! `cargo xtask`: the project's build, deploy and test tasks in one Rust binary.
//!
//! `main` parses the command line, anchors to the repository root and dispatches; each task
//! is one module owning its flags and its `run`.

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
mod process;
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

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Task};
use crate::ctx::Ctx;
use crate::process::RealRunner;

/// A task that fails with a specific exit code (the doctor's stable codes, a failed gate).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The repo root is where this crate lives, never the caller's cwd. XTASK_ROOT points the
    // integration tests at a fixture repository.
    let root = std::env::var_os("XTASK_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("xtask lives in the repo")
                .to_path_buf()
        });
    // Before any command runs: every secret this machine holds is hidden from every task's
    // output, logs and bundles, not only from the tasks that load the secrets.
    secrets::register_known(&root);
    process::install_interrupt_handler();
    let runner = RealRunner::new(root.join("target/xtask/logs"));
    let ctx = Ctx::new(root, cli.global, Box::new(runner));
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            eprintln!("error: {}", process::redact(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
