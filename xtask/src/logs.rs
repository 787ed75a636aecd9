//! `cargo xtask logs COMPONENT [-f]`: the logs of every pod of one component (all containers,
//! init ones included, each line prefixed with its pod and container).

use anyhow::{bail, Result};

use crate::cluster;
use crate::ctx::Ctx;
use crate::kube;

pub const COMPONENTS: [&str; 4] = ["frontend", "backend", "mcp", "postgres"];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// frontend, backend, mcp or postgres.
    pub component: String,
    /// Keep streaming new lines.
    #[arg(short, long)]
    pub follow: bool,
    /// Lines per container to start with.
    #[arg(long, default_value_t = 100)]
    pub tail: u32,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        if !COMPONENTS.contains(&self.component.as_str()) {
            bail!(
                "unknown component `{}`; components: {}",
                self.component,
                COMPONENTS.join(", ")
            );
        }
        let selector = format!("{},component={}", kube::SELECTOR, self.component);
        let cmd = cluster::kubectl(ctx).logs_selector(&selector, self.tail, self.follow);
        let out = ctx.run(&cmd)?;
        if !self.follow {
            ctx.console.out(&crate::process::redact(&out.stdout));
        }
        if !out.success() {
            bail!(
                "{}\n  fix: is the release deployed? `cargo xtask status`",
                crate::ctx::failure_message(&cmd, &out)
            );
        }
        Ok(())
    }
}
