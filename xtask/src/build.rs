//! `cargo xtask build [SERVICE...]`: build each image whose content tag is not in the target
//! daemon yet. Services whose inputs did not change cost one question to the daemon, for all
//! of them together: over the Engine API's socket when the daemon is local, else one
//! `docker image inspect` each (`tools/docker_api.rs`).
//!
//! The target is the host's Docker daemon or minikube's. For minikube, `docker-env` is read
//! once and its variables go to every docker call (no `eval`, no shell, and never a silent
//! fall-back to the host). When the cluster's runtime is not Docker, the image is built on
//! the host and copied in with `minikube image load`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::ctx::{failure_message, Ctx};
use crate::report::{ImageRow, Report, Status};
use crate::services::{self, BuildInputs, Service};
use crate::tools::{self, BuildSpec, Docker};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Host,
    Minikube,
}

#[derive(Clone, Debug, Default, clap::Args)]
#[group(skip)] // flattened into `images`; two groups named `Args` would clash
pub struct Args {
    /// Services to build (frontend, backend, mcp); all when none is given.
    pub services: Vec<String>,
    /// Where the images go: the host daemon or minikube's (default: minikube when the
    /// profile is running, else host).
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// `docker build --network` (e.g. `host` where builds have no bridge network).
    #[arg(long)]
    pub network: Option<String>,
    /// Base image override, `python=IMAGE` or `node=IMAGE` (also XTASK_BASE_PYTHON / XTASK_BASE_NODE).
    #[arg(long = "base", value_name = "KIND=IMAGE")]
    pub bases: Vec<String>,
    /// An extra build argument, `KEY=VALUE`, or `SERVICE:KEY=VALUE` for one service only
    /// (part of the content tag).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
}

/// Where images are built and where the cluster finds them.
#[derive(Clone, Debug, Default)]
pub struct DockerTarget {
    pub name: String,
    /// minikube's docker-env variables (empty for the host daemon).
    pub env: Vec<(String, String)>,
    /// Build on the host, then `minikube image load` into this profile (non-Docker runtimes).
    pub load_into: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Built {
    pub service: Service,
    pub image: String,
    pub tag: String,
    pub cached: bool,
    pub seconds: f64,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let mut report = Report::new();
        let started = Instant::now();
        let result = self.build(ctx, &mut report);
        report.task("build", started.elapsed(), Status::of(&result));
        let path = report.write(&ctx.env, &ctx.target_dir())?;
        if ctx.global.json {
            ctx.show(serde_json::to_string_pretty(&report.images)?);
        }
        result?;
        ctx.say(format!("report: {}", ctx.rel(&path).display()));
        Ok(())
    }

    /// Builds what changed and records each image in the report.
    pub fn build(&self, ctx: &Ctx, report: &mut Report) -> Result<(DockerTarget, Vec<Built>)> {
        let inputs = BuildInputs::new(&ctx.env, &self.bases, &self.build_args)?;
        let target = resolve_target(ctx, self.target)?;
        let app_version = services::app_version(&ctx.root)?;
        // Every tag first, then one question for all of them, then what is missing is built.
        let mut wanted = Vec::new();
        for s in services::select(&self.services)? {
            let digest = services::content_digest(&ctx.root, &s, &inputs)?;
            wanted.push((s, digest));
        }
        let images: Vec<String> = wanted
            .iter()
            .filter_map(|(s, d)| d.as_ref().map(|d| format!("{}:{}", s.repository, d.tag)))
            .collect();
        let mut present = crate::tools::docker_api::inspect(ctx, &target.env, &images)?
            .into_iter()
            .map(|i| i.is_some());
        let mut built = Vec::new();
        for (s, digest) in wanted {
            let Some(digest) = digest else {
                ctx.say(format!(
                    "{:9} skipped: no Dockerfile yet ({})",
                    s.name, s.dockerfile
                ));
                continue;
            };
            let image = format!("{}:{}", s.repository, digest.tag);
            let t = Instant::now();
            let cached = present.next().unwrap_or(false);
            if cached {
                if let Some(p) = &target.load_into {
                    load_if_missing(ctx, p, &image)?;
                }
            } else {
                let spec = build_spec(
                    ctx,
                    &s,
                    &inputs,
                    &image,
                    &digest.digest,
                    app_version.as_deref(),
                    self.network.as_deref(),
                );
                build_one(ctx, &target, &s, &spec, &image)?;
            }
            let seconds = t.elapsed().as_secs_f64();
            let what = if cached {
                "cached".to_string()
            } else {
                format!("built in {seconds:.1}s")
            };
            ctx.say(format!("{:9} {image} {what} ({})", s.name, target.name));
            // One row per image even when several steps of a run build (or find) it.
            let seen = report
                .images
                .iter()
                .any(|r| r.service == s.name && r.tag == digest.tag);
            if !seen {
                report.images.push(ImageRow {
                    service: s.name.into(),
                    tag: digest.tag.clone(),
                    size: None,
                    own_size: None,
                    cached,
                });
            }
            built.push(Built {
                service: s,
                image,
                tag: digest.tag,
                cached,
                seconds,
            });
        }
        Ok((target, built))
    }
}

/// Picks the daemon. An explicit `--target minikube` that cannot be reached is an error,
/// never a quiet build on the host that the cluster would not see.
pub fn resolve_target(ctx: &Ctx, wanted: Option<Target>) -> Result<DockerTarget> {
    let profile = ctx.global.profile.as_str();
    let (running, state) = match wanted {
        Some(Target::Host) => (false, None),
        _ => crate::cluster::profile_state(ctx),
    };
    let target = match wanted {
        Some(t) => t,
        None if running => Target::Minikube,
        None => Target::Host,
    };
    if target == Target::Host {
        return Ok(DockerTarget {
            name: "host daemon".into(),
            ..Default::default()
        });
    }
    if !running {
        bail!(
            "--target minikube: profile `{profile}` is not running; start it with `cargo xtask up`"
        );
    }
    let mk = crate::cluster::minikube(ctx, profile);
    let runtime = state
        .and_then(|p| p.config)
        .and_then(|c| c.kubernetes)
        .map(|k| k.runtime)
        .unwrap_or_else(|| "docker".into());
    if runtime != "docker" && !runtime.is_empty() {
        return Ok(DockerTarget {
            name: format!("host daemon, loaded into minikube `{profile}` ({runtime})"),
            env: Vec::new(),
            load_into: Some(profile.to_string()),
        });
    }
    let out = ctx
        .run_ok(&mk.docker_env())
        .context("reading minikube's docker-env")?;
    let env = tools::parse_docker_env(&out.stdout)?;
    Ok(DockerTarget {
        name: format!("minikube `{profile}` daemon"),
        env,
        load_into: None,
    })
}

/// The `docker build` of one image exactly as `build` runs it: its content tag and the
/// chart's `appVersion`, the content-digest label, the service's build arguments.
pub fn build_spec(
    ctx: &Ctx,
    s: &Service,
    inputs: &BuildInputs,
    image: &str,
    digest: &str,
    app_version: Option<&str>,
    network: Option<&str>,
) -> BuildSpec {
    let mut tags = vec![image.to_string()];
    if let Some(v) = app_version {
        tags.push(format!("{}:{v}", s.repository));
    }
    BuildSpec {
        context: s.context_dir(&ctx.root),
        dockerfile: s.dockerfile_path(&ctx.root),
        tags,
        build_args: inputs.args_for(s),
        labels: [(
            "dev.todo-chatbot.content-digest".to_string(),
            digest.to_string(),
        )]
        .into(),
        network: network.map(str::to_string),
    }
}

/// Builds one image (and loads it into minikube when its runtime is not Docker's).
fn build_one(
    ctx: &Ctx,
    target: &DockerTarget,
    s: &Service,
    spec: &BuildSpec,
    image: &str,
) -> Result<()> {
    let docker = Docker {
        tool: &ctx.tools.docker,
        env: &target.env,
    };
    let latest = Arc::new(Mutex::new(String::new()));
    let spinner = ctx.spinner(&format!("{:9}", s.name));
    let bar = spinner.clone();
    let last = latest.clone();
    let name = s.name;
    let console = ctx.console.clone();
    let cmd = docker
        .build(spec)
        .output(crate::process::Output::Stream)
        .on_line(move |line| {
            *last.lock().unwrap_or_else(|e| e.into_inner()) = line.to_string();
            match &bar {
                Some(pb) => pb.set_message(line.chars().take(120).collect::<String>()),
                // Plain mode: the builder's step lines only, so a CI log stays readable.
                None if line.starts_with("Step ")
                    || line.starts_with("#") && line.contains("DONE") =>
                {
                    console.err(&format!("{name:9} {line}\n"))
                }
                None => {}
            }
        });
    ctx.say(format!("{:9} building {image} …", s.name));
    let out = ctx.run(&cmd);
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    let out = out?;
    if !out.success() {
        bail!(
            "building {} failed.\n{}",
            s.name,
            failure_message(&cmd, &out)
        );
    }
    if let Some(p) = &target.load_into {
        ctx.run_ok(&crate::cluster::minikube(ctx, p).image_load(image))?;
    }
    Ok(())
}

fn load_if_missing(ctx: &Ctx, profile: &str, image: &str) -> Result<()> {
    let mk = crate::cluster::minikube(ctx, profile);
    let listed = ctx
        .run(&mk.image_ls())
        .map(|o| o.stdout)
        .unwrap_or_default();
    if !in_image_list(&listed, image) {
        ctx.run_ok(&mk.image_load(image).timeout(Duration::from_secs(600)))?;
    }
    Ok(())
}

/// Whether `minikube image ls` lists `image` (it prints registry-qualified names such as
/// `docker.io/library/todo-backend:<tag>`).
pub fn in_image_list(listing: &str, image: &str) -> bool {
    listing
        .lines()
        .map(str::trim)
        .any(|l| l == image || l.ends_with(&format!("/{image}")))
}

#[cfg(test)]
mod tests {
    use super::in_image_list;

    #[test]
    fn image_list_matches_whole_names_only() {
        let ls = "docker.io/library/todo-backend:abc\nregistry.k8s.io/pause:3.9\n";
        assert!(in_image_list(ls, "todo-backend:abc"));
        assert!(!in_image_list(ls, "backend:abc"));
        assert!(!in_image_list(ls, "todo-backend:ab"));
        assert!(in_image_list("todo-mcp:1\n", "todo-mcp:1"));
    }
}
