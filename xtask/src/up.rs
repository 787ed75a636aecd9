//! `cargo xtask up`: the minikube profile running, with the ingress addon enabled and its
//! admission webhook ready (installing an Ingress before that fails). Idempotent: a running
//! profile is reported, never restarted.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cluster;
use crate::ctx::Ctx;
use crate::doctor::{self, MIN_CPUS, MIN_MEMORY_MB};
use crate::process::Output;
use crate::tools::{self, KubectlIn, Minikube, StartOptions};
use crate::Exit;

#[derive(Clone, Debug, clap::Args)]
#[group(skip)] // flattened into `deploy`; two groups named `Args` would clash
pub struct Args {
    /// minikube driver for a new profile.
    #[arg(long, default_value = "docker")]
    pub driver: String,
    /// Memory (MB) for a new profile.
    #[arg(long, default_value_t = MIN_MEMORY_MB)]
    pub memory: u64,
    /// CPUs for a new profile.
    #[arg(long, default_value_t = MIN_CPUS)]
    pub cpus: u32,
    /// Kubernetes version for a new profile (e.g. v1.31.0); minikube's default otherwise.
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// How long to wait for the API server and the ingress controller.
    #[arg(long, default_value = "5m", value_parser = crate::kube::parse_duration)]
    pub ready_timeout: Duration,
    /// Create a profile without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            driver: "docker".into(),
            memory: MIN_MEMORY_MB,
            cpus: MIN_CPUS,
            kubernetes_version: None,
            ready_timeout: Duration::from_secs(300),
            yes: false,
        }
    }
}

/// What `up` did, for the deploy report.
pub struct Up {
    pub took: Duration,
    pub started: bool,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let up = self.ensure(ctx)?;
        if !up.started {
            ctx.say(format!(
                "profile `{}` was already running ({:.1}s to check)",
                ctx.global.profile,
                up.took.as_secs_f64()
            ));
        }
        Ok(())
    }

    pub fn ensure(&self, ctx: &Ctx) -> Result<Up> {
        if !cluster::on_minikube(ctx) {
            bail!(
                "`up` starts a minikube profile; context `{}` is a cluster the xtask does not manage.\n  fix: start it with its own tool, then `cargo xtask deploy --context {}`",
                cluster::kube_context(ctx),
                cluster::kube_context(ctx)
            );
        }
        let t = Instant::now();
        let profile = ctx.global.profile.as_str();
        if !ctx.tools.minikube.found() && ctx.global.dry_run {
            println!(
                "would run: minikube start -p {profile} --driver {} --memory {} --cpus {}, then `minikube addons enable ingress` and wait for its controller   (not verified: minikube is not installed yet)",
                self.driver, self.memory, self.cpus
            );
            return Ok(Up {
                took: t.elapsed(),
                started: true,
            });
        }
        if !ctx.tools.minikube.found() {
            ctx.say(format!(
                "✗ minikube not found  [TOOL_MINIKUBE_MISSING]\n    {} ({})",
                doctor::install_hint("minikube"),
                crate::guide::see("TOOL_MINIKUBE_MISSING")
            ));
            return Err(Exit(doctor::exit_code("TOOL_MINIKUBE_MISSING")).into());
        }
        let mk = Minikube {
            tool: &ctx.tools.minikube,
            profile,
        };
        let (running, existing) = cluster::profile_state(ctx);
        if let Some(cfg) = existing.as_ref().and_then(|p| p.config.as_ref()) {
            resources_enough(ctx, cfg.memory_mb, cfg.cpus)?;
        }
        let mut started = false;
        if running {
            let k8s = existing
                .as_ref()
                .and_then(|p| p.config.as_ref())
                .and_then(|c| c.kubernetes.as_ref())
                .map(|k| format!(" (Kubernetes {})", k.version))
                .unwrap_or_default();
            ctx.say(format!("profile `{profile}` is running{k8s}"));
        } else {
            if existing.is_none() {
                cluster::confirm(
                    ctx,
                    &format!(
                        "create the minikube profile `{profile}` ({} MB, {} CPUs, driver {}; the first start downloads about 1 GB)?",
                        self.memory, self.cpus, self.driver
                    ),
                    self.yes,
                )?;
            }
            resources_enough(ctx, self.memory, self.cpus)?;
            match &existing {
                Some(p) => ctx.say(format!(
                    "starting minikube profile `{profile}` ({}; it keeps the memory and CPUs it was created with) …",
                    if p.status.is_empty() { "not running" } else { p.status.as_str() }
                )),
                None => ctx.say(format!("creating minikube profile `{profile}` …")),
            }
            let start = mk
                .start(&StartOptions {
                    driver: self.driver.clone(),
                    memory_mb: self.memory,
                    cpus: self.cpus,
                    kubernetes_version: self.kubernetes_version.clone(),
                })
                .output(Output::Stream);
            let out = ctx.run(&start)?;
            if !out.success() {
                bail!(
                    "{}\n  fix: read the lines above; `minikube -p {profile} logs` has more, and `minikube delete -p {profile}` starts over",
                    crate::ctx::failure_message(&start, &out)
                );
            }
            started = true;
        }
        let addons = ctx
            .run(&mk.addons_list())
            .ok()
            .filter(|o| o.success())
            .and_then(|o| tools::parse_addons(&o.stdout).ok())
            .unwrap_or_default();
        if !addons.get("ingress").copied().unwrap_or(false) {
            ctx.say("enabling the ingress addon …");
            ctx.run_ok(&mk.addons_enable("ingress").output(Output::Stream))?;
        }
        let k = KubectlIn {
            tool: &ctx.tools.kubectl,
            context: profile,
            namespace: "ingress-nginx",
        };
        let controller =
            k.wait_pods_ready("app.kubernetes.io/component=controller", self.ready_timeout);
        if ctx.global.dry_run && !running {
            println!("would run: {}", k.readyz().display());
            println!("would run: {}", controller.display());
        } else {
            wait_api(ctx, &k, self.ready_timeout)?;
            // The controller's readiness is what the ingress-nginx docs wait on before creating
            // Ingresses: its admission webhook serves from the same pod.
            let out = ctx.run(&controller)?;
            if !out.success() {
                bail!(
                    "the ingress controller did not become ready within {}s:\n{}\n  fix: `kubectl --context {profile} -n ingress-nginx get pods` and `cargo xtask diagnose`",
                    self.ready_timeout.as_secs(),
                    out.tail(10)
                );
            }
        }
        let took = t.elapsed();
        if started {
            ctx.say(format!(
                "profile `{profile}` is up with ingress ({:.0}s)",
                took.as_secs_f64()
            ));
        }
        Ok(Up { took, started })
    }
}

/// A profile's memory and CPUs are fixed when it is created: too little is the doctor's
/// problem, with its id, exit code and fix.
fn resources_enough(ctx: &Ctx, memory_mb: u64, cpus: u32) -> Result<()> {
    let profile = &ctx.global.profile;
    let (id, what) = if memory_mb < MIN_MEMORY_MB {
        (
            "MINIKUBE_MEMORY_LOW",
            format!("{memory_mb} MB of memory; the release needs ≥ {MIN_MEMORY_MB} MB"),
        )
    } else if cpus < MIN_CPUS {
        (
            "MINIKUBE_CPUS_LOW",
            format!("{cpus} CPUs; the release needs ≥ {MIN_CPUS}"),
        )
    } else {
        return Ok(());
    };
    ctx.say(format!(
        "✗ minikube profile `{profile}` has {what}  [{id}]\n    fix: `minikube delete -p {profile} && cargo xtask up` (memory and CPUs are fixed when a profile is created; {})",
        crate::guide::see(id)
    ));
    Err(Exit(doctor::exit_code(id)).into())
}

fn wait_api(ctx: &Ctx, k: &KubectlIn, timeout: Duration) -> Result<()> {
    let t = Instant::now();
    let mut last = String::new();
    while t.elapsed() < timeout {
        match ctx.run(&k.readyz()) {
            Ok(o) if o.success() && o.stdout.trim() == "ok" => return Ok(()),
            Ok(o) => last = o.tail(3),
            Err(e) => last = format!("{e:#}"),
        }
        if crate::process::interrupted() {
            bail!("interrupted");
        }
        std::thread::sleep(cluster::poll_interval());
    }
    bail!(
        "the Kubernetes API of profile `{}` did not answer within {}s (last: {last})\n  fix: `minikube -p {} status`, or `cargo xtask diagnose`",
        ctx.global.profile,
        timeout.as_secs(),
        ctx.global.profile
    )
}
