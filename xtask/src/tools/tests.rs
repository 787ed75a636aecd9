use super::*;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tools")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn helm_versions_from_real_output() {
    assert_eq!(
        Version::parse(&fixture("helm4-version.txt")),
        Some(Version::new(4, 1, 4))
    );
    assert_eq!(
        Version::parse(&fixture("helm3-version.txt")),
        Some(Version::new(3, 17, 3))
    );
    // The full BuildInfo line reads the same, although GoVersion comes later in it.
    assert_eq!(
        Version::parse(&fixture("helm3-version-full.txt")),
        Some(Version::new(3, 17, 3))
    );
}

#[test]
fn kubectl_version_from_real_output() {
    let (client, server) = parse_kubectl_version(&fixture("kubectl-version-client.json")).unwrap();
    assert_eq!(client, Version::new(1, 33, 9));
    assert_eq!(server, None);
    let with_server =
        r#"{"clientVersion":{"gitVersion":"v1.33.9"},"serverVersion":{"gitVersion":"v1.31.0"}}"#;
    assert_eq!(
        parse_kubectl_version(with_server).unwrap().1,
        Some(Version::new(1, 31, 0))
    );
}

#[test]
fn docker_version_from_real_output() {
    let up = parse_docker_version(&fixture("docker-version.json")).unwrap();
    assert_eq!(
        Version::parse(&up.client.version),
        Some(Version::new(28, 2, 2))
    );
    let server = up.server.unwrap();
    assert_eq!(
        Version::parse(&server.version),
        Some(Version::new(20, 10, 24))
    );
    let down = parse_docker_version(&fixture("docker-version-daemon-down.json")).unwrap();
    assert!(down.server.is_none());
}

#[test]
fn minikube_outputs_from_documented_shapes() {
    assert_eq!(
        parse_minikube_version(&fixture("minikube-version.json")).unwrap(),
        Version::new(1, 34, 0)
    );
    let profiles = parse_profiles(&fixture("minikube-profile-list.json")).unwrap();
    let cfg = profiles[0].config.as_ref().unwrap();
    assert_eq!(
        (profiles[0].name.as_str(), profiles[0].status.as_str()),
        ("minikube", "Running")
    );
    assert_eq!(
        (cfg.memory_mb, cfg.cpus, cfg.driver.as_str()),
        (4096, 2, "docker")
    );
    assert_eq!(cfg.kubernetes.as_ref().unwrap().runtime, "docker");
    assert!(
        parse_minikube_status(&fixture("minikube-status-running.json"))
            .unwrap()
            .running()
    );
    assert!(
        !parse_minikube_status(&fixture("minikube-status-stopped.json"))
            .unwrap()
            .running()
    );
    assert!(parse_addons(&fixture("minikube-addons-list.json")).unwrap()["ingress"]);
}

#[test]
fn minikube_status_of_a_multi_node_profile_is_an_array() {
    let two = parse_minikube_status(&fixture("minikube-status-multinode.json")).unwrap();
    assert_eq!(two.nodes.len(), 2);
    assert!(two.running(), "{two:?}");
    assert_eq!(two.control_plane().unwrap().name, "minikube");
    assert!(two.nodes[1].worker);
    // A stopped worker: the profile is not fully running, and says which node.
    let half =
        parse_minikube_status(&fixture("minikube-status-multinode-worker-stopped.json")).unwrap();
    assert!(!half.running());
    assert_eq!(half.summary(), "minikube Running, minikube-m02 Stopped");
}

#[test]
fn minikube_status_with_a_stale_kubeconfig() {
    let s = parse_minikube_status(&fixture("minikube-status-misconfigured.json")).unwrap();
    assert!(s.running());
    assert!(s.kubeconfig_stale());
    assert!(
        !parse_minikube_status(&fixture("minikube-status-running.json"))
            .unwrap()
            .kubeconfig_stale()
    );
}

#[test]
fn docker_system_info_from_a_real_engine_and_docker_desktop() {
    let linux = parse_docker_info(&fixture("docker-system-info.json")).unwrap();
    assert!(!linux.docker_desktop());
    assert!(linux.mem_total > 0);
    let desktop = parse_docker_info(&fixture("docker-system-info-desktop.json")).unwrap();
    assert!(desktop.docker_desktop());
    assert_eq!(desktop.mem_total >> 20, 2996);
}

#[test]
fn docker_env_parsing() {
    let vars = parse_docker_env(&fixture("minikube-docker-env.txt")).unwrap();
    assert_eq!(
        vars[1],
        ("DOCKER_HOST".into(), "tcp://192.168.49.2:2376".into())
    );
    assert_eq!(vars.len(), 4);
    // The bash form with `export` and quotes is not what we ask for; a missing host is an error.
    assert!(parse_docker_env("# nothing\n").is_err());
}

#[test]
fn version_parse_edge_cases() {
    assert_eq!(Version::parse("v1.32"), Some(Version::new(1, 32, 0)));
    assert_eq!(Version::parse("none"), None);
    assert!(Version::new(3, 14, 0) < Version::new(3, 17, 3));
    assert!(Version::new(4, 0, 0) > Version::new(3, 99, 0));
}
