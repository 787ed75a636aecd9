//! The xtask's one integration-test binary: scenarios of fake docker/minikube/kubectl/helm
//! that log their calls and replay recorded outputs, run against the xtask in-process (the
//! default) or as the real `xtask` executable where a process matters (`harness.rs` says
//! which is which), and, where a Docker daemon answers, the executable against real Docker.

mod bench;
mod build;
mod cluster;
mod cluster_fakes;
mod deploy;
mod doctor;
mod fake_engine;
mod harness;
mod real_docker;
mod secrets;
mod setup;
mod smoke;
mod targets;
