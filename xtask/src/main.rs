//! `cargo xtask`: the binary. Everything but the process itself (its environment, the real
//! runner, Ctrl-C, the exit code) lives in the library.

use std::process::ExitCode;
use std::sync::Arc;

use xtask::process::{self, RealRunner};
use xtask::{Console, Env};

fn main() -> ExitCode {
    let env = Env::from_process();
    process::install_interrupt_handler();
    let root = xtask::root(&env);
    let runner = RealRunner::new(root.join("target/xtask/logs"));
    ExitCode::from(xtask::run(
        std::env::args_os(),
        env,
        Box::new(runner),
        Arc::new(Console::std()),
    ))
}
