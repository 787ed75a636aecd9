//! `cargo xtask status`: the release (revision, state), its pods (ready, restarts, image and
//! tag) and the URL. `--json` for machines.

use anyhow::{bail, Result};
use serde::Serialize;

use crate::cluster;
use crate::ctx::Ctx;
use crate::kube;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct Status {
    release: String,
    namespace: String,
    revision: u64,
    state: String,
    last_deployed: String,
    pods: Vec<PodRow>,
    images: Vec<String>,
    url: String,
}

#[derive(Serialize)]
struct PodRow {
    name: String,
    component: String,
    ready: String,
    status: String,
    restarts: u32,
    images: Vec<String>,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let release = cluster::release(ctx);
        let out = ctx.run(&release.status())?;
        if !out.success() {
            if out.stderr.contains("not found") {
                bail!(
                    "release {} is not installed in namespace {} (context {}): `cargo xtask deploy`",
                    kube::RELEASE,
                    kube::NAMESPACE,
                    cluster::kube_context(ctx)
                );
            }
            bail!("{}", crate::ctx::failure_message(&release.status(), &out));
        }
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim())
            .map_err(|e| anyhow::anyhow!("unexpected `helm status -o json` output: {e}"))?;
        let pods = cluster::pods(ctx)?;
        let mut images: Vec<String> = pods
            .iter()
            .flat_map(|p| p.spec.containers.iter().map(|c| c.image.clone()))
            .collect();
        images.sort();
        images.dedup();
        let ip = cluster::minikube_ip(ctx)
            .or_else(|| cluster::ingress_status_address(ctx))
            .unwrap_or_default();
        let status = Status {
            release: kube::RELEASE.into(),
            namespace: kube::NAMESPACE.into(),
            revision: v["version"].as_u64().unwrap_or(0),
            state: v["info"]["status"].as_str().unwrap_or("?").into(),
            last_deployed: v["info"]["last_deployed"].as_str().unwrap_or("").into(),
            pods: pods.iter().filter(|p| !p.terminating()).map(row).collect(),
            images,
            url: "http://todo.local".into(),
        };
        if ctx.global.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
            return Ok(());
        }
        println!(
            "release {} revision {} ({}), namespace {}, last deployed {}",
            status.release, status.revision, status.state, status.namespace, status.last_deployed
        );
        let w = status.pods.iter().map(|p| p.name.len()).max().unwrap_or(4);
        println!(
            "{:w$}  {:5}  {:18}  {:8}  IMAGE",
            "POD", "READY", "STATUS", "RESTARTS"
        );
        for p in &status.pods {
            println!(
                "{:w$}  {:5}  {:18}  {:<8}  {}",
                p.name,
                p.ready,
                p.status,
                p.restarts,
                p.images.join(", ")
            );
        }
        println!("images: {}", status.images.join(", "));
        let hint = if ip.is_empty() {
            String::new()
        } else {
            format!("  (todo.local → {ip})")
        };
        println!("url: {}{hint}", status.url);
        Ok(())
    }
}

fn row(p: &kube::Pod) -> PodRow {
    let total = p.spec.containers.len();
    let ready = p
        .status
        .container_statuses
        .iter()
        .filter(|c| c.ready)
        .count();
    // What kubectl's STATUS column shows: a waiting or terminated reason wins over the phase.
    let status = p
        .status
        .init_container_statuses
        .iter()
        .chain(&p.status.container_statuses)
        .find_map(|c| c.state.waiting.as_ref().map(|w| w.reason.clone()))
        .unwrap_or_else(|| p.status.phase.clone());
    PodRow {
        name: p.name().into(),
        component: p.metadata.component().into(),
        ready: format!("{ready}/{total}"),
        status,
        restarts: p.restarts(),
        images: p.spec.containers.iter().map(|c| c.image.clone()).collect(),
    }
}
