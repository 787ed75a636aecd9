//! The xtask's one integration-test binary: the real `xtask` executable against fake
//! docker/minikube/kubectl/helm that log their calls and replay scripted scenarios, and,
//! where a Docker daemon answers, against real Docker.

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
