//! `cargo xtask up`: the minikube profile running, with the ingress addon enabled and its
//! admission webhook ready (installing an Ingress before that fails). Idempotent: a running
//! profile is reported, never restarted.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cluster;
use crate::ctx::Ctx;
use crate::doctor::{self, MIN_CPUS, MIN_MEMORY_MB};
use crate::process::Output;
use crate::tools::{self, Docker, KubectlIn, ProfileConfig, StartOptions};
use crate::Exit;

#[derive(Clone, Debug, clap::Args)]
#[group(skip)] // flattened into `deploy`; two groups named `Args` would clash
pub struct Args {
    /// minikube driver for a new profile (default docker). An existing profile keeps its own:
    /// naming a different one fails.
    #[arg(long)]
    pub driver: Option<String>,
    /// Memory (MB) for a new profile (default 4096). An existing profile keeps its own.
    #[arg(long)]
    pub memory: Option<u64>,
    /// CPUs for a new profile (default 2). An existing profile keeps its own.
    #[arg(long)]
    pub cpus: Option<u32>,
    /// Kubernetes version for a new profile (e.g. v1.31.0); minikube's default otherwise. An
    /// existing profile keeps its own.
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
            driver: None,
            memory: None,
            cpus: None,
            kubernetes_version: None,
            ready_timeout: Duration::from_secs(300),
            yes: false,
        }
    }
}

/// The driver a new profile gets unless `--driver` says otherwise.
pub const DEFAULT_DRIVER: &str = "docker";

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
            ctx.show(format!(
                "would run: minikube start -p {profile} --driver {} --memory {} --cpus {}, then `minikube addons enable ingress` and wait for its controller   (not verified: minikube is not installed yet)",
                self.driver.as_deref().unwrap_or(DEFAULT_DRIVER),
                self.memory.unwrap_or(MIN_MEMORY_MB),
                self.cpus.unwrap_or(MIN_CPUS)
            ));
            return Ok(Up {
                took: t.elapsed(),
                started: true,
            });
        }
        if !ctx.tools.minikube.found() {
            ctx.say(format!(
                "✗ minikube not found  [TOOL_MINIKUBE_MISSING]\n    {} ({})",
                doctor::install_hint("minikube"),
                crate::guide::see(doctor::Problem::ToolMinikubeMissing)
            ));
            return Err(Exit(doctor::Problem::ToolMinikubeMissing.exit_code()).into());
        }
        let mk = crate::cluster::minikube(ctx, profile);
        let (status, existing) = cluster::profile_view(ctx);
        let running = status.as_ref().is_some_and(|s| s.running());
        let cfg = existing.as_ref().and_then(|p| p.config.as_ref());
        if let Some(cfg) = cfg {
            self.same_as_profile(ctx, cfg)?;
        }
        let mut started = false;
        if running {
            let k8s = cfg
                .and_then(|c| c.kubernetes.as_ref())
                .map(|k| format!(" (Kubernetes {})", k.version))
                .unwrap_or_default();
            ctx.say(format!("profile `{profile}` is running{k8s}"));
            if status.as_ref().is_some_and(|s| s.kubeconfig_stale()) {
                ctx.say(format!(
                    "the kube context `{profile}` points at an old address of the cluster (minikube status: Kubeconfig Misconfigured): running `minikube -p {profile} update-context` …"
                ));
                let cmd = mk.update_context();
                let out = ctx.run(&cmd)?;
                cluster::forget_profile_view(ctx);
                if !out.success() {
                    bail!(
                        "{}\n  fix: `minikube -p {profile} update-context`, or `minikube -p {profile} stop && cargo xtask up`",
                        crate::ctx::failure_message(&cmd, &out)
                    );
                }
            }
        } else {
            let driver = cfg
                .map(|c| c.driver.clone())
                .filter(|d| !d.is_empty())
                .or_else(|| self.driver.clone())
                .unwrap_or_else(|| DEFAULT_DRIVER.into());
            not_root_with_docker(ctx, &driver)?;
            let start = match &existing {
                Some(p) => {
                    let kept = cfg
                        .map(|c| {
                            format!(
                                "driver {}, {}, {} CPUs",
                                c.driver,
                                memory_text(c.memory_mb),
                                c.cpus
                            )
                        })
                        .unwrap_or_else(|| "its own settings".into());
                    ctx.say(format!(
                        "starting minikube profile `{profile}` ({}; as it was created: {kept}) …",
                        if p.status.is_empty() {
                            "not running"
                        } else {
                            p.status.as_str()
                        }
                    ));
                    // No --driver/--memory/--cpus/--kubernetes-version: minikube keeps the
                    // profile's own, and a differing --driver would make it exit.
                    mk.start(&StartOptions::default())
                }
                None => {
                    let memory = self.memory.unwrap_or(MIN_MEMORY_MB);
                    let cpus = self.cpus.unwrap_or(MIN_CPUS);
                    cluster::confirm(
                        ctx,
                        &format!(
                            "create the minikube profile `{profile}` ({memory} MB, {cpus} CPUs, driver {driver}; the first start downloads about 1 GB)?",
                        ),
                        self.yes,
                    )?;
                    resources_enough(ctx, memory, cpus)?;
                    if driver == "docker" {
                        docker_has_room(ctx, memory)?;
                    }
                    ctx.say(format!("creating minikube profile `{profile}` …"));
                    mk.start(&StartOptions {
                        driver: Some(driver.clone()),
                        memory_mb: Some(memory),
                        cpus: Some(cpus),
                        kubernetes_version: self.kubernetes_version.clone(),
                    })
                }
            };
            let start = start.output(Output::Stream);
            let out = ctx.run(&start)?;
            if !out.success() {
                bail!(
                    "{}\n  fix: read the lines above; `minikube -p {profile} logs` has more, and `minikube delete -p {profile}` starts over",
                    crate::ctx::failure_message(&start, &out)
                );
            }
            started = true;
            cluster::forget_profile_view(ctx);
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
            ctx.show(format!("would run: {}", k.readyz().display()));
            ctx.show(format!("would run: {}", controller.display()));
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

    /// minikube keeps an existing profile's driver, memory and CPUs (a different `--driver`
    /// makes it exit, the others only warn) and upgrades or refuses a different Kubernetes
    /// version. What the user asked for explicitly must match, or the fix is named here.
    fn same_as_profile(&self, ctx: &Ctx, cfg: &ProfileConfig) -> Result<()> {
        let profile = &ctx.global.profile;
        let mut differ = Vec::new();
        let mut flags = Vec::new();
        if let Some(d) = &self.driver {
            if !cfg.driver.is_empty() && !same_driver(d, &cfg.driver) {
                differ.push(format!("driver {} (you asked for {d})", cfg.driver));
                flags.push(format!("--driver {d}"));
            }
        }
        if let Some(m) = self.memory {
            if m != cfg.memory_mb {
                differ.push(format!(
                    "{} (you asked for {m} MB)",
                    memory_text(cfg.memory_mb)
                ));
                flags.push(format!("--memory {m}"));
            }
        }
        if let Some(c) = self.cpus {
            if c != cfg.cpus {
                differ.push(format!("{} CPUs (you asked for {c})", cfg.cpus));
                flags.push(format!("--cpus {c}"));
            }
        }
        if let (Some(want), Some(have)) = (
            &self.kubernetes_version,
            cfg.kubernetes.as_ref().map(|k| k.version.as_str()),
        ) {
            let norm = |v: &str| v.trim().trim_start_matches('v').to_string();
            if !have.is_empty() && norm(want) != norm(have) {
                differ.push(format!("Kubernetes {have} (you asked for {want})"));
                flags.push(format!("--kubernetes-version {want}"));
            }
        }
        if differ.is_empty() {
            return Ok(());
        }
        let id = doctor::Problem::MinikubeProfileMismatch;
        ctx.say(format!(
            "✗ minikube profile `{profile}` already exists with {}  [{id}]\n    minikube keeps an existing profile's driver, memory and CPUs (and would upgrade Kubernetes in place, or refuse to downgrade it).\n    fix: drop {} to use the profile as it is, or recreate it: `minikube delete -p {profile} && cargo xtask up {}`",
            differ.join(", "),
            flags
                .iter()
                .map(|f| f.split(' ').next().unwrap_or(f))
                .collect::<Vec<_>>()
                .join(" "),
            flags.join(" ")
        ));
        Err(Exit(id.exit_code()).into())
    }
}

/// minikube's driver aliases (`kvm` is `kvm2`, `qemu` is `qemu2`, `generic` is `ssh`,
/// `native` is `none`): asking for the alias of the profile's driver is asking for it.
fn same_driver(a: &str, b: &str) -> bool {
    let canon = |d: &str| {
        match d {
            "kvm" => "kvm2",
            "qemu" => "qemu2",
            "generic" => "ssh",
            "native" => "none",
            other => other,
        }
        .to_string()
    };
    canon(a) == canon(b)
}

fn memory_text(mb: u64) -> String {
    if mb == 0 {
        "no memory limit".into()
    } else {
        format!("{mb} MB")
    }
}

/// The user id the root check sees: `XTASK_EUID` when set (the tests use it), else the
/// process's effective uid.
fn effective_uid(ctx: &Ctx) -> u32 {
    if let Some(uid) = ctx
        .env
        .get("XTASK_EUID")
        .and_then(|v| v.trim().parse().ok())
    {
        return uid;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// minikube refuses the docker (and podman) driver as root unless `--force`: say so, with
/// the fix, before `minikube start` fails with DRV_AS_ROOT.
fn not_root_with_docker(ctx: &Ctx, driver: &str) -> Result<()> {
    if !matches!(driver, "docker" | "podman") || effective_uid(ctx) != 0 {
        return Ok(());
    }
    let profile = &ctx.global.profile;
    let id = doctor::Problem::MinikubeDriverAsRoot;
    ctx.say(format!(
        "✗ running as root: minikube refuses the {driver} driver with root privileges (it exits DRV_AS_ROOT)  [{id}]\n    fix: run `cargo xtask up` as a regular user in the docker group (`sudo usermod -aG docker $USER`, then log in again); a root-owned profile goes with `sudo minikube delete -p {profile}`.\n    In a throwaway container where root is the only user, start the profile yourself: `minikube start -p {profile} --driver {driver} --force`, then `cargo xtask up`"
    ));
    Err(Exit(id.exit_code()).into())
}

/// Docker Desktop runs containers in a VM with its own memory: a profile asking for more
/// than the VM has gets a container that cannot use it. minikube reads the same figure
/// (`docker system info` MemTotal).
fn docker_has_room(ctx: &Ctx, memory_mb: u64) -> Result<()> {
    let out = match ctx.run(
        &Docker {
            tool: &ctx.tools.docker,
            env: &[],
        }
        .system_info(),
    ) {
        Ok(o) if o.success() => o,
        // No answer: the doctor's daemon check says why; minikube will too.
        _ => return Ok(()),
    };
    let Ok(info) = tools::parse_docker_info(&out.stdout) else {
        return Ok(());
    };
    if !info.docker_desktop() {
        return Ok(());
    }
    let have = info.mem_total >> 20;
    if have >= memory_mb {
        return Ok(());
    }
    let id = doctor::Problem::DockerMemoryLow;
    let want_gb = (memory_mb + 1024).div_ceil(1024);
    ctx.say(format!(
        "✗ Docker Desktop gives its VM {have} MB of memory; a minikube profile of {memory_mb} MB does not fit in it  [{id}]\n    fix: Docker Desktop → Settings → Resources → Memory: at least {want_gb} GB ({memory_mb} MB for the profile and room for Docker itself), Apply & restart, then run this again"
    ));
    Err(Exit(id.exit_code()).into())
}

/// A new profile's memory and CPUs are fixed when it is created: asking for less than the
/// release needs is the doctor's problem, with its id, exit code and fix.
fn resources_enough(ctx: &Ctx, memory_mb: u64, cpus: u32) -> Result<()> {
    let (id, what) = if memory_mb < MIN_MEMORY_MB {
        (
            doctor::Problem::MinikubeMemoryLow,
            format!(
                "{memory_mb} MB of memory; a new profile for the release gets ≥ {MIN_MEMORY_MB} MB"
            ),
        )
    } else if cpus < MIN_CPUS {
        (
            doctor::Problem::MinikubeCpusLow,
            format!("{cpus} CPUs; a new profile for the release gets ≥ {MIN_CPUS}"),
        )
    } else {
        return Ok(());
    };
    ctx.say(format!(
        "✗ asked for a minikube profile with {what}  [{id}]\n    fix: `cargo xtask up` without --memory/--cpus (or with larger values); memory and CPUs are fixed when a profile is created ({})",
        crate::guide::see(id)
    ));
    Err(Exit(id.exit_code()).into())
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
        std::thread::sleep(cluster::poll_interval(ctx));
    }
    bail!(
        "the Kubernetes API of profile `{}` did not answer within {}s (last: {last})\n  fix: `minikube -p {} status`, or `cargo xtask diagnose`",
        ctx.global.profile,
        timeout.as_secs(),
        ctx.global.profile
    )
}
