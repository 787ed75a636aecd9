use crate::harness::Fake;

#[test]
fn everything_present_passes_with_versions_and_sources() {
    let f = Fake::new();
    f.healthy();
    let r = f.xtask(&["doctor"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("✓ docker"), "{r:?}");
    assert!(
        r.stdout.contains("engine 20.10.24+dfsg1 on host daemon"),
        "{r:?}"
    );
    assert!(r.stdout.contains("1.34.0"), "{r:?}");
    assert!(
        r.stdout.contains("4.1.4") && r.stdout.contains("(Helm 4)"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("(from $XTASK_HELM)"),
        "the tool's origin is shown: {r:?}"
    );
    assert!(
        r.stdout.contains("✓ minikube memory") && r.stdout.contains("4096 MB"),
        "{r:?}"
    );
    assert!(r.stdout.contains("✓ ingress addon"), "{r:?}");
    // kubectl 1.33 against a 1.31 server is two minors apart: a warning, not a failure.
    assert!(r.stdout.contains("KUBECTL_VERSION_SKEW"), "{r:?}");
}

#[test]
fn helm_3_is_accepted() {
    let f = Fake::new();
    f.healthy().fixture("helm3-version.txt");
    std::fs::write(
        f.scenario().join("helm.rules"),
        "version --template*\t0\thelm3-version.txt\t-\n",
    )
    .unwrap();
    let r = f.xtask(&["doctor"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("3.17.3") && r.stdout.contains("(Helm 3)"),
        "{r:?}"
    );
}

#[test]
fn missing_helm_has_a_stable_id_exit_code_and_fix() {
    let mut f = Fake::new();
    f.healthy();
    f.missing("helm");
    let r = f.xtask(&["doctor"]);
    assert_eq!(r.code, 45, "{r:?}");
    assert!(
        r.stdout.contains("✗ helm") && r.stdout.contains("[TOOL_HELM_MISSING]"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("cargo xtask setup"),
        "the fix is named: {r:?}"
    );
    assert!(
        r.stdout
            .contains("(see docs/troubleshooting.md#tool_helm_missing)"),
        "the guide's entry is named: {r:?}"
    );
    // The other checks still ran.
    assert!(r.stdout.contains("✓ kubectl"), "{r:?}");
}

#[test]
fn too_old_kubectl_and_minikube() {
    let f = Fake::new();
    f.healthy().fixture("minikube-version-old.json");
    f.file(
        "kubectl-old.json",
        r#"{"clientVersion":{"gitVersion":"v1.27.4"}}"#,
    );
    std::fs::write(
        f.scenario().join("kubectl.rules"),
        "version --client -o json\t0\tkubectl-old.json\t-\n--context minikube version -o json*\t1\tkubectl-old.json\t-\n",
    )
    .unwrap();
    std::fs::write(
        f.scenario().join("minikube.rules"),
        std::fs::read_to_string(f.scenario().join("minikube.rules"))
            .unwrap()
            .replace("minikube-version.json", "minikube-version-old.json"),
    )
    .unwrap();
    let r = f.xtask(&["doctor"]);
    // The first failure decides the exit code: minikube comes before kubectl.
    assert_eq!(r.code, 42, "{r:?}");
    assert!(
        r.stdout.contains("[TOOL_MINIKUBE_TOO_OLD]") && r.stdout.contains("1.32.0"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("[TOOL_KUBECTL_TOO_OLD]") && r.stdout.contains("1.27.4"),
        "{r:?}"
    );
}

#[test]
fn docker_daemon_down() {
    let f = Fake::new();
    f.healthy()
        .fixture("docker-version-daemon-down.json")
        .fixture("docker-version-daemon-down.stderr");
    std::fs::write(
        f.scenario().join("docker.rules"),
        "version --format*\t1\tdocker-version-daemon-down.json\tdocker-version-daemon-down.stderr\n",
    )
    .unwrap();
    let r = f.xtask(&["doctor"]);
    assert_eq!(r.code, 89, "{r:?}");
    assert!(r.stdout.contains("[DOCKER_DAEMON_DOWN]"), "{r:?}");
    assert!(
        r.stdout.contains("Cannot connect to the Docker daemon"),
        "the daemon's own words: {r:?}"
    );
    assert!(
        r.stdout.contains("systemctl start docker") || r.stdout.contains("Docker Desktop"),
        "{r:?}"
    );
}

#[test]
fn low_memory_profile_fails_with_minikube_style_code() {
    let f = Fake::new();
    f.healthy();
    let list = std::fs::read_to_string(f.scenario().join("minikube-profile-list.json")).unwrap();
    f.file(
        "minikube-profile-list.json",
        &list.replace("\"Memory\":4096", "\"Memory\":2200"),
    );
    let r = f.xtask(&["doctor"]);
    assert_eq!(r.code, 23, "{r:?}");
    assert!(
        r.stdout.contains("[MINIKUBE_MEMORY_LOW]") && r.stdout.contains("2200 MB"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("minikube delete -p minikube && cargo xtask up"),
        "{r:?}"
    );
}

#[test]
fn a_stopped_profile_is_a_warning_that_names_up() {
    let f = Fake::new();
    f.healthy().fixture("minikube-status-stopped.json");
    f.rule(
        "minikube",
        "-p dev status -o json",
        3,
        "minikube-status-stopped.json",
    );
    let r = f.xtask(&["doctor", "--profile", "dev"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("profile `dev` does not exist yet"),
        "{r:?}"
    );
    assert!(r.stdout.contains("cargo xtask up"), "{r:?}");
}

#[test]
fn a_check_that_errors_is_its_own_result() {
    let f = Fake::new();
    f.healthy();
    f.file("garbage.txt", "not json at all");
    std::fs::write(
        f.scenario().join("kubectl.rules"),
        "version*\t0\tgarbage.txt\t-\n",
    )
    .unwrap();
    let r = f.xtask(&["doctor", "--json"]);
    assert_eq!(r.code, 98, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let checks = v.as_array().unwrap();
    let kubectl = checks.iter().find(|c| c["name"] == "kubectl").unwrap();
    assert_eq!(kubectl["id"], "CHECK_ERROR");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "helm" && c["level"] == "ok"),
        "later checks still ran: {v}"
    );
}
