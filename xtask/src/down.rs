//! `cargo xtask down`: uninstall the release; `--purge` also deletes the namespace and its
//! volumes (the database); `--cluster` deletes the minikube profile. Asks first unless
//! `--yes` (and, with nobody to ask, as in CI, requires it).

use anyhow::{bail, Result};

use crate::cluster;
use crate::ctx::{failure_message, Ctx};
use crate::kube;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also delete the namespace and its PersistentVolumeClaims (the database's data).
    #[arg(long)]
    pub purge: bool,
    /// Also delete the minikube profile.
    #[arg(long)]
    pub cluster: bool,
    /// Do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        if self.cluster && !cluster::on_minikube(ctx) {
            bail!(
                "--cluster deletes a minikube profile, and context `{}` is not one: the xtask never deletes other clusters.\n  fix: drop --cluster (the release is uninstalled either way), and delete the cluster with its own tool",
                cluster::kube_context(ctx)
            );
        }
        let profile = ctx.global.profile.clone();
        let mut what = vec![format!("uninstall release {}", kube::RELEASE)];
        if self.purge {
            what.push(format!(
                "delete namespace {} and its volumes (the database's data is lost)",
                kube::NAMESPACE
            ));
        }
        if self.cluster {
            what.push(format!("delete the minikube profile `{profile}`"));
        }
        cluster::confirm(ctx, &format!("{}?", what.join(", then ")), self.yes)?;
        let release = cluster::release(ctx);
        let cmd = release.uninstall();
        let out = ctx.run(&cmd)?;
        if out.success() {
            ctx.say(format!("release {} uninstalled", kube::RELEASE));
        } else if out.stderr.contains("not found") {
            ctx.say(format!("release {} was not installed", kube::RELEASE));
        } else if !self.cluster {
            bail!("{}", failure_message(&cmd, &out));
        }
        if self.purge {
            let k = cluster::kubectl(ctx);
            ctx.run_ok(&k.delete_pvcs())?;
            ctx.run_ok(&k.delete_namespace())?;
            ctx.say(format!(
                "namespace {} and its volumes deleted",
                kube::NAMESPACE
            ));
        }
        if self.cluster {
            ctx.run_ok(&crate::cluster::minikube(ctx, &profile).delete())?;
            ctx.say(format!("minikube profile `{profile}` deleted"));
        }
        Ok(())
    }
}
