//! The project's own toolchains and linters: cargo, uv, npm, node in a folder of the
//! repository; hadolint, kubernetes-validate, actionlint, sha256sum.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::Cmd;

use super::*;

impl Tool {
    /// This tool in a folder of the repository, its output streamed: `npm test` in
    /// frontend/, `uv run pytest` in backend/, `cargo clippy` at the root.
    pub fn in_dir(&self, dir: &Path, args: &[&str]) -> Cmd {
        self.cmd()
            .args(args.iter().copied())
            .cwd(dir)
            .output(crate::process::Output::Stream)
    }
}

/// `kubernetes-validate --strict --quiet -k VERSION FILE...`: schema validation, offline.
pub fn kubernetes_validate(tool: &Tool, version: &str, files: &[PathBuf]) -> Cmd {
    tool.cmd()
        .args(["--strict", "--quiet", "-k", version])
        .args(files.iter().map(|f| f.display().to_string()))
        .timeout(Duration::from_secs(120))
}

/// `sha256sum FILE...` in `dir`: the bench's physical limit for hashing the same bytes.
pub fn sha256sum(dir: &Path, files: &[PathBuf]) -> Cmd {
    Cmd::new("sha256sum")
        .args(files.iter().map(|f| f.display().to_string()))
        .cwd(dir)
}

/// `hadolint FILE...`
pub fn hadolint(tool: &Tool, files: &[PathBuf]) -> Cmd {
    tool.cmd()
        .args(files.iter().map(|f| f.display().to_string()))
}

/// `actionlint` at the repository root (it finds `.github/workflows` itself).
pub fn actionlint(tool: &Tool, root: &Path) -> Cmd {
    tool.cmd().cwd(root)
}
