//! `curl` and `tar`: how `setup` fetches and unpacks pinned tool releases.

use std::path::Path;
use std::time::Duration;

use crate::process::Cmd;

use super::*;

/// `curl` fetching one URL into a file. It fails on HTTP errors, follows redirects, retries
/// any error (a connection dropped mid-body included) with a fixed delay, resumes a partial
/// file (`-C -`), and reads `HTTPS_PROXY` / `NO_PROXY` from the environment by itself.
pub struct Curl<'a> {
    pub tool: &'a Tool,
    /// The limit for one attempt (`--max-time`).
    pub max_time: Duration,
    /// curl's own progress bar, drawn straight on the terminal; `-sS` (errors only) otherwise.
    pub progress: bool,
}

impl Curl<'_> {
    pub const RETRIES: u64 = 5;

    pub fn download(&self, url: &str, to: &Path) -> Cmd {
        let secs = self.max_time.as_secs().max(1);
        let c = self.tool.cmd().args([
            "--fail",
            "--location",
            "--retry",
            &Self::RETRIES.to_string(),
            "--retry-delay",
            "1",
            "--retry-all-errors",
            "--connect-timeout",
            "15",
            "--max-time",
            &secs.to_string(),
            "-C",
            "-",
            "-o",
            &to.to_string_lossy(),
        ]);
        let c = if self.progress {
            c.arg("--progress-bar")
                .output(crate::process::Output::Inherit)
        } else {
            c.arg("-sS")
        };
        // Every attempt may use its whole budget, plus the pause between attempts.
        let all = (secs + 1) * (Self::RETRIES + 1) + 30;
        c.arg(url).timeout(Duration::from_secs(all)).mutating()
    }
}

/// `tar`, which unpacks `.tar.gz` everywhere and, as the bsdtar Windows ships, `.zip` too.
pub struct Tar<'a> {
    pub tool: &'a Tool,
}

impl Tar<'_> {
    pub fn extract(&self, archive: &Path, into: &Path) -> Cmd {
        self.tool
            .cmd()
            .args([
                "-xf",
                &archive.to_string_lossy(),
                "-C",
                &into.to_string_lossy(),
            ])
            .timeout(Duration::from_secs(120))
            .mutating()
    }
}
