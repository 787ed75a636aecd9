//! `cargo xtask hash`: the content-hashed tag of each image, without building anything.
//!
//! A tag is the first 12 hex digits of a sha256 over the build context as Docker sees it
//! (`.dockerignore` applied with Docker's own rules), the Dockerfile, the build arguments
//! and the platform (see `context_hash.rs`). Same inputs, same tag, on any machine.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::services::{self, BuildInputs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to hash (frontend, backend, mcp); all when none is given.
    pub services: Vec<String>,
    /// Base image override, `python=IMAGE` or `node=IMAGE` (also XTASK_BASE_PYTHON / XTASK_BASE_NODE).
    #[arg(long = "base", value_name = "KIND=IMAGE")]
    pub bases: Vec<String>,
    /// An extra build argument, `KEY=VALUE`, or `SERVICE:KEY=VALUE` for one service only
    /// (part of the tag).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
}

#[derive(Serialize)]
struct Row {
    service: &'static str,
    image: Option<String>,
    tag: Option<String>,
    digest: Option<String>,
    files: usize,
    bytes: u64,
    millis: f64,
    note: Option<String>,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let inputs = BuildInputs::new(&ctx.env, &self.bases, &self.build_args)?;
        let mut rows = Vec::new();
        for s in services::select(&self.services)? {
            let t = Instant::now();
            let d = services::content_digest(&ctx.root, &s, &inputs)?;
            let millis = t.elapsed().as_secs_f64() * 1000.0;
            rows.push(match d {
                Some(d) => Row {
                    service: s.name,
                    image: Some(format!("{}:{}", s.repository, d.tag)),
                    tag: Some(d.tag),
                    digest: Some(d.digest),
                    files: d.files,
                    bytes: d.bytes,
                    millis,
                    note: None,
                },
                None => Row {
                    service: s.name,
                    image: None,
                    tag: None,
                    digest: None,
                    files: 0,
                    bytes: 0,
                    millis,
                    note: Some(format!("no Dockerfile yet ({})", s.dockerfile)),
                },
            });
        }
        if ctx.global.json {
            ctx.show(serde_json::to_string_pretty(&rows)?);
        } else {
            for r in &rows {
                match (&r.image, &r.note) {
                    (Some(img), _) => ctx.show(format!(
                        "{:9} {img:28} {} files, {:.1} MB, {:.1} ms",
                        r.service,
                        r.files,
                        r.bytes as f64 / 1e6,
                        r.millis
                    )),
                    (None, Some(note)) => ctx.show(format!("{:9} – {note}", r.service)),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
