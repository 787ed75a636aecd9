//! How `deploy` gets the images it built to the cluster, decided from the kube context as
//! Tilt and Skaffold do, or forced with `--delivery`:
//!
//! | target | delivery |
//! |---|---|
//! | a minikube profile (no `--context`) | build straight into minikube's daemon |
//! | `kind-<name>` | build on the host, `kind load docker-image --name <name>` |
//! | `docker-desktop`, `orbstack`, `rancher-desktop` | build on the host: its daemon is the cluster's |
//! | any other context | `--registry HOST[:PORT][/PREFIX]`: tag, then push what the registry lacks |
//!
//! A registry is asked for each tag before anything is pushed, so a deploy with no change
//! pushes nothing: over its HTTP API for a loopback registry (plain HTTP, as Docker itself
//! allows for 127.0.0.0/8), through `docker manifest inspect` for any other (TLS and the
//! credentials of `docker login` stay Docker's).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::build::Built;
use crate::ctx::{failure_message, Ctx};
use crate::tools::{Docker, Kind};

/// What `--delivery` can force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Minikube,
    Kind,
    Host,
    Registry,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Built straight into the profile's daemon (or loaded, for a non-Docker runtime).
    Minikube,
    /// Built on the host, then copied into the kind cluster's nodes.
    Kind { cluster: String },
    /// The host's daemon is the cluster's (Docker Desktop, OrbStack, Rancher Desktop with moby).
    HostDaemon,
    /// Built on the host, pushed to a registry the cluster pulls from.
    Registry(Registry),
}

/// Contexts whose cluster runs on the host's Docker daemon.
const HOST_DAEMON_CONTEXTS: [&str; 3] = ["docker-desktop", "orbstack", "rancher-desktop"];

impl Delivery {
    /// The delivery for a target: `--registry` wins, then `--delivery`, then the context's name.
    pub fn detect(
        context: Option<&str>,
        registry: Option<Registry>,
        forced: Option<Method>,
    ) -> Result<Delivery> {
        let name = context.unwrap_or("minikube");
        if let Some(r) = registry {
            if matches!(forced, Some(m) if m != Method::Registry) {
                bail!("--registry and --delivery {forced:?} disagree: drop one of them");
            }
            return Ok(Delivery::Registry(r));
        }
        Ok(match forced {
            Some(Method::Registry) => bail!(
                "--delivery registry needs --registry HOST[:PORT][/PREFIX] (env XTASK_REGISTRY)"
            ),
            Some(Method::Minikube) if context.is_some() => bail!(
                "--delivery minikube works on a minikube profile: drop --context and pass --profile {name}"
            ),
            Some(Method::Minikube) => Delivery::Minikube,
            Some(Method::Kind) => Delivery::Kind {
                cluster: name.strip_prefix("kind-").unwrap_or(name).to_string(),
            },
            Some(Method::Host) => Delivery::HostDaemon,
            None if context.is_none() => Delivery::Minikube,
            None => {
                if let Some(cluster) = name.strip_prefix("kind-") {
                    Delivery::Kind {
                        cluster: cluster.to_string(),
                    }
                } else if HOST_DAEMON_CONTEXTS.contains(&name) {
                    Delivery::HostDaemon
                } else {
                    bail!(
                        "context `{name}` is not minikube, kind or Docker Desktop, so its nodes cannot see images built here.\n  fix: push them to a registry the cluster pulls from: `--registry HOST[:PORT][/PREFIX]` (env XTASK_REGISTRY; `docker login HOST` first if it needs credentials), or `--delivery host` if the cluster runs on this machine's Docker daemon, or `--delivery kind` for a kind cluster with a renamed context"
                    )
                }
            }
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Delivery::Minikube => "built into minikube's daemon".into(),
            Delivery::Kind { cluster } => format!("kind load into cluster `{cluster}`"),
            Delivery::HostDaemon => "built into the host daemon the cluster uses".into(),
            Delivery::Registry(r) => format!("pushed to {}", r.display()),
        }
    }

    /// The image pull policy the kubelet needs: images built into its own daemon must never
    /// be pulled; images in a registry are pulled once per node and tag.
    pub fn pull_policy(&self) -> &'static str {
        match self {
            Delivery::Registry(_) => "IfNotPresent",
            _ => "Never",
        }
    }
}

/// `HOST[:PORT][/PREFIX]`, as `--registry` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    /// `host` or `host:port` (an IPv6 host in brackets).
    pub host: String,
    pub prefix: Option<String>,
}

impl Registry {
    pub fn parse(s: &str) -> Result<Registry> {
        let fix = "expected HOST[:PORT][/PREFIX], e.g. `localhost:5000`, `ghcr.io/OWNER` or `registry.example.com:5443/team`";
        let s = s.trim();
        if s.contains("://") {
            bail!("--registry {s:?}: no scheme, please: {fix}");
        }
        let (host, prefix) = match s.split_once('/') {
            Some((h, p)) => (h, Some(p.trim_end_matches('/'))),
            None => (s, None),
        };
        let (name, port) = if let Some(rest) = host.strip_prefix('[') {
            let (v6, after) = rest
                .split_once(']')
                .ok_or_else(|| anyhow::anyhow!("--registry {s:?}: unclosed `[`: {fix}"))?;
            if v6.parse::<std::net::Ipv6Addr>().is_err() {
                bail!("--registry {s:?}: `{v6}` is not an IPv6 address: {fix}");
            }
            (v6, after.strip_prefix(':'))
        } else {
            match host.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (host, None),
            }
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !host.starts_with('[') && (name.is_empty() || !name.split('.').all(label_ok)) {
            bail!("--registry {s:?}: `{name}` is not a host name: {fix}");
        }
        if let Some(p) = port {
            if p.parse::<u16>().map_or(true, |n| n == 0) {
                bail!("--registry {s:?}: `{p}` is not a port number: {fix}");
            }
        }
        if let Some(p) = prefix {
            let component_ok = |c: &str| {
                !c.is_empty()
                    && c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
                    && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            };
            if !p.split('/').all(component_ok) {
                bail!("--registry {s:?}: `{p}` is not a repository path (lower-case letters, digits, `.`, `_`, `-`, separated by `/`): {fix}");
            }
        }
        Ok(Registry {
            host: host.to_string(),
            prefix: prefix.map(str::to_string),
        })
    }

    pub fn display(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{}/{p}", self.host),
            None => self.host.clone(),
        }
    }

    pub fn repository(&self, local_repository: &str) -> String {
        format!("{}/{local_repository}", self.display())
    }

    /// A registry on this machine: Docker talks plain HTTP to it, and so can we.
    pub fn loopback(&self) -> bool {
        let name = match self.host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => self.host.split(':').next().unwrap_or(&self.host),
        };
        name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// What happened to one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Already where the cluster looks: nothing was copied.
    Present,
    Pushed,
    Loaded,
}

#[derive(Clone, Debug)]
pub struct Delivered {
    pub service: &'static str,
    /// The reference the chart names (registry-qualified when pushed).
    pub image: String,
    pub fate: Fate,
    pub seconds: f64,
}

/// Gets each built image to the cluster; returns what happened to each.
pub fn deliver(ctx: &Ctx, how: &Delivery, built: &[Built]) -> Result<Vec<Delivered>> {
    let mut out = Vec::new();
    for b in built {
        let t = Instant::now();
        let (image, fate) = match how {
            Delivery::Minikube | Delivery::HostDaemon => (b.image.clone(), Fate::Present),
            Delivery::Kind { cluster } => (b.image.clone(), kind_load(ctx, cluster, &b.image)?),
            Delivery::Registry(r) => {
                let remote = format!("{}:{}", r.repository(b.service.repository), b.tag);
                let fate = if ctx.global.dry_run && !b.cached {
                    ctx.show(format!("would push {remote} (built in this run)"));
                    Fate::Pushed
                } else if registry_has(ctx, r, b.service.repository, &b.tag, &remote)? {
                    Fate::Present
                } else {
                    push(ctx, r, &b.image, &remote)?;
                    Fate::Pushed
                };
                (remote, fate)
            }
        };
        let seconds = t.elapsed().as_secs_f64();
        let verb = match fate {
            Fate::Present => "already there",
            Fate::Pushed => "pushed",
            Fate::Loaded => "loaded",
        };
        if !matches!(how, Delivery::Minikube | Delivery::HostDaemon) {
            ctx.say(format!(
                "{:9} {image} {verb} ({seconds:.1}s)",
                b.service.name
            ));
        }
        out.push(Delivered {
            service: b.service.name,
            image,
            fate,
            seconds,
        });
    }
    Ok(out)
}

fn kind_load(ctx: &Ctx, cluster: &str, image: &str) -> Result<Fate> {
    if !ctx.tools.kind.found() {
        bail!("kind is not installed, and context `kind-{cluster}` needs it to load images into its nodes.\n  fix: install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), or set XTASK_KIND to its path, or push to a registry with --registry");
    }
    let cmd = Kind {
        tool: &ctx.tools.kind,
    }
    .load_docker_image(cluster, image);
    let out = ctx.run(&cmd)?;
    if !out.success() {
        let fix = if out.stderr.contains("no nodes found for cluster") {
            format!("\n  fix: kind has no cluster `{cluster}` (`kind get clusters`); create it with `kind create cluster --name {cluster}`, or pick another --context")
        } else {
            String::new()
        };
        bail!("{}{fix}", failure_message(&cmd, &out));
    }
    // kind skips the nodes that have the image's ID already (`kind load docker-image` in
    // sigs.k8s.io/kind pkg/cmd/kind/load/docker-image).
    Ok(
        if format!("{}{}", out.stdout, out.stderr)
            .contains("found to be already present on all nodes")
        {
            Fate::Present
        } else {
            Fate::Loaded
        },
    )
}

/// Whether the registry has `repo:tag` already. Each way it can fail has its own message.
fn registry_has(ctx: &Ctx, r: &Registry, repo: &str, tag: &str, remote: &str) -> Result<bool> {
    if r.loopback() {
        let path = match &r.prefix {
            Some(p) => format!("{p}/{repo}"),
            None => repo.to_string(),
        };
        let url = format!("http://{}/v2/{path}/manifests/{tag}", r.host);
        let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
        let resp = crate::http::request(
            "GET",
            &url,
            &[("Accept", accept)],
            None,
            Duration::from_secs(10),
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "registry {} does not answer ({e:#}).\n  fix: start it, or check --registry (HOST[:PORT]; `curl http://{}/v2/` must answer)",
                r.host,
                r.host
            )
        })?;
        return match resp.status {
            200 => Ok(true),
            404 => Ok(false),
            401 | 403 => bail!(
                "registry {} refused us (HTTP {}): it needs credentials.\n  fix: `docker login {}`",
                r.host,
                resp.status,
                r.host
            ),
            s => bail!(
                "registry {} answered HTTP {s} for {url}: {}\n  fix: is this a Docker registry (API v2)? check --registry",
                r.host,
                crate::http::excerpt(&resp.body)
            ),
        };
    }
    let docker = Docker {
        tool: &ctx.tools.docker,
        env: &[],
    };
    let cmd = docker.manifest_inspect(remote);
    let out = ctx.run(&cmd)?;
    if out.success() {
        return Ok(true);
    }
    let err = out.stderr.to_ascii_lowercase();
    if err.contains("no such manifest") || err.contains("manifest unknown") {
        return Ok(false);
    }
    if err.contains("unauthorized")
        || err.contains("authentication required")
        || err.contains("denied")
    {
        bail!(
            "registry {} refused us ({}): it needs credentials.\n  fix: `docker login {}`",
            r.host,
            out.stderr.lines().next().unwrap_or("").trim(),
            r.host
        );
    }
    bail!(
        "could not reach registry {}:\n{}\n  fix: check the name and that this machine reaches it (`docker manifest inspect {remote}`)",
        r.host,
        out.tail(5)
    )
}

fn push(ctx: &Ctx, r: &Registry, local: &str, remote: &str) -> Result<()> {
    let docker = Docker {
        tool: &ctx.tools.docker,
        env: &[],
    };
    ctx.run_ok(&docker.tag(local, remote))?;
    let cmd = docker.push(remote);
    let out = ctx.run(&cmd)?;
    if out.success() {
        return Ok(());
    }
    let err = out.stderr.to_ascii_lowercase();
    let fix = if err.contains("unauthorized")
        || err.contains("authentication required")
        || err.contains("denied")
    {
        format!("`docker login {}`", r.host)
    } else if err.contains("server gave http response to https client") {
        format!(
            "the registry speaks plain HTTP: add \"{}\" to \"insecure-registries\" in Docker's daemon.json and restart Docker, or give it TLS",
            r.host
        )
    } else {
        format!(
            "check that this machine reaches {} and that it accepts pushes",
            r.host
        )
    };
    bail!("{}\n  fix: {fix}", failure_message(&cmd, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(s: &str) -> Registry {
        Registry::parse(s).unwrap_or_else(|e| panic!("{s}: {e:#}"))
    }

    #[test]
    fn registries_parse_with_port_and_prefix() {
        assert_eq!(
            reg("localhost:5000"),
            Registry {
                host: "localhost:5000".into(),
                prefix: None
            }
        );
        let r = reg("ghcr.io/acme/todo/");
        assert_eq!(r.host, "ghcr.io");
        assert_eq!(
            r.repository("todo-backend"),
            "ghcr.io/acme/todo/todo-backend"
        );
        assert_eq!(reg("[::1]:5000").host, "[::1]:5000");
    }

    #[test]
    fn malformed_registries_name_the_form() {
        for bad in [
            "",
            "http://localhost:5000",
            "local host:5000",
            "localhost:notaport",
            "localhost:0",
            "localhost:99999",
            "ghcr.io/Acme",
            "ghcr.io//x",
            "-bad.example",
            "[::zz]:5000",
        ] {
            let e = Registry::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("HOST[:PORT][/PREFIX]"), "{bad}: {e}");
        }
    }

    #[test]
    fn loopback_registries_are_recognised() {
        assert!(reg("localhost:5000").loopback());
        assert!(reg("127.0.0.1:5000/x").loopback());
        assert!(reg("[::1]:5000").loopback());
        assert!(reg("[::1]").loopback());
        assert!(!reg("ghcr.io/acme").loopback());
        assert!(!reg("registry.local:5000").loopback());
    }

    #[test]
    fn delivery_follows_the_context_and_the_flags() {
        let d = |c: Option<&str>, r: Option<&str>, m: Option<Method>| {
            Delivery::detect(c, r.map(reg), m)
        };
        assert_eq!(d(None, None, None).unwrap(), Delivery::Minikube);
        assert_eq!(
            d(Some("kind-dev"), None, None).unwrap(),
            Delivery::Kind {
                cluster: "dev".into()
            }
        );
        assert_eq!(
            d(Some("docker-desktop"), None, None).unwrap(),
            Delivery::HostDaemon
        );
        assert_eq!(
            d(Some("kind-dev"), Some("localhost:5000"), None).unwrap(),
            Delivery::Registry(reg("localhost:5000"))
        );
        assert_eq!(
            d(Some("prod"), None, Some(Method::Host)).unwrap(),
            Delivery::HostDaemon
        );
        let e = d(Some("gke_prod"), None, None).unwrap_err().to_string();
        assert!(e.contains("--registry HOST[:PORT][/PREFIX]"), "{e}");
        assert!(d(Some("x"), Some("localhost:5000"), Some(Method::Kind)).is_err());
        assert!(d(Some("x"), None, Some(Method::Registry)).is_err());
        assert!(d(Some("x"), None, Some(Method::Minikube)).is_err());
        assert_eq!(
            Delivery::Registry(reg("localhost:5000")).pull_policy(),
            "IfNotPresent"
        );
        assert_eq!(Delivery::Minikube.pull_policy(), "Never");
    }
}
