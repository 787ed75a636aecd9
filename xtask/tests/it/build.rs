use crate::harness::{snapshot, Fake};

/// A repository with only a backend Dockerfile (frontend and mcp not written yet).
fn backend_repo(f: &Fake) {
    f.repo_file(
        "backend/Dockerfile",
        "ARG PYTHON_IMAGE=python:3.11-slim\nFROM ${PYTHON_IMAGE}\nCOPY app.py /app/app.py\n",
    )
    .repo_file("backend/app.py", "print('hi')\n")
    .repo_file("backend/.dockerignore", ".venv\n");
}

#[test]
fn a_cached_image_costs_one_inspect_and_no_build() {
    let f = Fake::new();
    backend_repo(&f);
    f.file("inspect.txt", "sha256:abc 1234\n");
    f.rule("docker", "image inspect*", 0, "inspect.txt");
    let r = f.xtask(&["build", "--target", "host"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("cached");
    r.says("frontend  skipped: no Dockerfile yet (frontend/Dockerfile)");
    r.says("mcp       skipped: no Dockerfile yet (mcp/Dockerfile)");
    let calls = f.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("docker image inspect --format {{.Id}} {{.Size}} todo-backend:"),
        "{calls:?}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.root.join("target/xtask/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["images"][0]["cached"], true);
}

#[test]
fn a_failed_build_shows_the_last_lines_and_the_log() {
    let f = Fake::new();
    backend_repo(&f);
    let out: String = (1..=60)
        .map(|i| format!("build output line {i}\n"))
        .collect();
    f.file("build-out.txt", &out);
    f.rule("docker", "image inspect*", 1, "-")
        .rule("docker", "build*", 1, "build-out.txt");
    let r = f.xtask(&["build", "--target", "host", "backend"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("building backend failed");
    assert!(
        r.stderr.contains("build output line 60") && r.stderr.contains("build output line 21"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("build output line 20\n"),
        "only the last 40 lines: {r:?}"
    );
    assert!(
        r.stderr.contains("full log: ") && r.stderr.contains("target/xtask/logs/"),
        "{r:?}"
    );
}

#[test]
fn minikube_docker_env_reaches_every_docker_call() {
    let f = Fake::new();
    backend_repo(&f);
    f.healthy();
    f.rule("docker", "image inspect*", 1, "-")
        .rule("docker", "build*", 0, "-");
    let r = f.xtask(&["build"]);
    assert_eq!(r.code, 0, "{r:?}");
    let docker: Vec<_> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("docker "))
        .collect();
    assert_eq!(docker.len(), 2, "{docker:?}");
    for c in &docker {
        assert!(c.ends_with("[DOCKER_HOST=tcp://192.168.49.2:2376]"), "{c}");
    }
    r.says("minikube `minikube` daemon");
}

#[test]
fn target_minikube_never_falls_back_to_the_host() {
    let f = Fake::new();
    backend_repo(&f);
    f.healthy().fixture("minikube-status-stopped.json");
    std::fs::write(
        f.scenario().join("minikube.rules"),
        "-p minikube status -o json\t7\tminikube-status-stopped.json\t-\n",
    )
    .unwrap();
    let r = f.xtask(&["build", "--target", "minikube"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("is not running; start it with `cargo xtask up`");
    assert!(
        !f.calls().iter().any(|c| c.starts_with("docker build")),
        "{:?}",
        f.calls()
    );
}

#[test]
fn a_non_docker_runtime_builds_on_the_host_and_loads_the_image() {
    let f = Fake::new();
    backend_repo(&f);
    f.healthy();
    let list = std::fs::read_to_string(f.scenario().join("minikube-profile-list.json")).unwrap();
    f.file(
        "minikube-profile-list.json",
        &list.replace(
            "\"ContainerRuntime\":\"docker\"",
            "\"ContainerRuntime\":\"containerd\"",
        ),
    );
    f.rule("docker", "image inspect*", 1, "-")
        .rule("docker", "build*", 0, "-")
        .rule("minikube", "-p minikube image load*", 0, "-");
    let r = f.xtask(&["build", "backend"]);
    assert_eq!(r.code, 0, "{r:?}");
    let calls = f.calls();
    assert!(
        calls.iter().all(|c| !c.contains("DOCKER_HOST")),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("minikube -p minikube image load todo-backend:")),
        "{calls:?}"
    );
}

#[test]
fn dry_run_prints_the_plan_and_builds_nothing() {
    let f = Fake::new();
    backend_repo(&f);
    f.repo_file(
        "helm/todo-app/Chart.yaml",
        "apiVersion: v2\nname: todo-app\nversion: 0.1.0\nappVersion: \"0.1.0\"\n",
    );
    f.rule("docker", "image inspect*", 1, "-");
    let r = f.xtask(&[
        "build",
        "--dry-run",
        "--target",
        "host",
        "--network",
        "host",
        "--base",
        "python=mirror/python:3.11",
        "backend",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !f.calls().iter().any(|c| c.starts_with("docker build")),
        "{:?}",
        f.calls()
    );
    let plan = r.stdout.replace(&f.root.display().to_string(), "<repo>");
    snapshot("build-dry-run", &plan);
}

#[test]
fn a_build_arg_changes_the_tag() {
    let f = Fake::new();
    backend_repo(&f);
    let tag = |extra: &[&str]| {
        let mut args = vec!["hash", "--json", "backend"];
        args.extend_from_slice(extra);
        let r = f.xtask(&args);
        assert_eq!(r.code, 0, "{r:?}");
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v[0]["tag"].as_str().unwrap().to_string()
    };
    let plain = tag(&[]);
    assert_eq!(plain.len(), 12);
    assert_eq!(plain, tag(&[]), "same inputs, same tag");
    assert_ne!(plain, tag(&["--build-arg", "X=1"]));
    assert_ne!(plain, tag(&["--base", "python=mirror/python:3.11"]));
    // The node base is not the backend's: its tag does not move.
    assert_eq!(plain, tag(&["--base", "node=mirror/node:20"]));
}
