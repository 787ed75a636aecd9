//! Images straight into a node: `kind load docker-image`, and the CI cluster's
//! `cluster-up.sh --load`.

use std::path::Path;
use std::time::Duration;

use crate::process::Cmd;

use super::*;

/// The CI machine's `cluster-up.sh` (`XTASK_CLUSTER_UP`): `--load` puts images from the
/// Docker engine straight into the node, as `minikube image load` would.
pub fn cluster_up_load(script: &Path, images: &[String]) -> Cmd {
    Cmd::new("bash")
        .arg(script.to_string_lossy())
        .arg("--load")
        .args(images.iter().cloned())
        .timeout(Duration::from_secs(15 * 60))
        .mutating()
}

/// kind, for clusters whose nodes are Docker containers: images reach them by `kind load`.
pub struct Kind<'a> {
    pub tool: &'a Tool,
}

impl Kind<'_> {
    /// Copies an image from the host daemon into every node of `cluster`; kind itself skips
    /// the nodes that already have that image ID ("found to be already present on all nodes").
    pub fn load_docker_image(&self, cluster: &str, image: &str) -> Cmd {
        self.tool
            .cmd()
            .args(["load", "docker-image", image, "--name", cluster])
            .timeout(Duration::from_secs(10 * 60))
            .mutating()
    }
}
