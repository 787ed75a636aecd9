//! `cargo xtask status`: the release (revision, state, chart), its pods (ready, restarts,
//! image and tag) and the URL. `--json` for machines.
//!
//! The release comes from `helm get metadata`, which holds exactly that; `helm status -o json`
//! would print the release's values and rendered manifest, secrets included.

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
    chart: String,
    app_version: String,
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
        let out = ctx.run(&release.metadata())?;
        if !out.success() {
            if out.stderr.contains("not found") {
                bail!(
                    "release {} is not installed in namespace {} (context {}): `cargo xtask deploy`",
                    kube::RELEASE,
                    kube::NAMESPACE,
                    cluster::kube_context(ctx)
                );
            }
            bail!("{}", crate::ctx::failure_message(&release.metadata(), &out));
        }
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim())
            .map_err(|e| anyhow::anyhow!("unexpected `helm get metadata -o json` output: {e}"))?;
        let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
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
            revision: v["revision"].as_u64().unwrap_or(0),
            state: v["status"].as_str().unwrap_or("?").into(),
            last_deployed: text("deployedAt"),
            // `chart` is the chart's name and `version` its version, as `helm list` joins them.
            chart: format!("{}-{}", text("chart"), text("version")),
            app_version: text("appVersion"),
            pods: pods.iter().filter(|p| !p.terminating()).map(row).collect(),
            images,
            url: "http://todo.local".into(),
        };
        if ctx.global.json {
            ctx.show(serde_json::to_string_pretty(&status)?);
            return Ok(());
        }
        ctx.show(format!(
            "release {} revision {} ({}), namespace {}, last deployed {}, chart {} (app {})",
            status.release,
            status.revision,
            status.state,
            status.namespace,
            status.last_deployed,
            status.chart,
            status.app_version
        ));
        let w = status.pods.iter().map(|p| p.name.len()).max().unwrap_or(4);
        ctx.show(format!(
            "{:w$}  {:5}  {:18}  {:8}  IMAGE",
            "POD", "READY", "STATUS", "RESTARTS"
        ));
        for p in &status.pods {
            ctx.show(format!(
                "{:w$}  {:5}  {:18}  {:<8}  {}",
                p.name,
                p.ready,
                p.status,
                p.restarts,
                p.images.join(", ")
            ));
        }
        ctx.show(format!("images: {}", status.images.join(", ")));
        let hint = if ip.is_empty() {
            String::new()
        } else {
            format!("  (todo.local → {ip})")
        };
        ctx.show(format!("url: {}{hint}", status.url));
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
