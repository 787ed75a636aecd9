use crate::fake_engine::Engine;
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
    // The binary: the error points at the real runner's command log.
    let r = f.xtask_process(&["build", "--target", "host", "backend"]);
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
    let docker: Vec<_> = f.calls_starting("docker ");
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
        f.calls_starting("docker build").is_empty(),
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
        f.calls_starting("docker build").is_empty(),
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

#[test]
fn a_local_daemon_is_asked_over_its_socket_and_the_cli_answers_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let have = dir.path().join("have.sock");
    let lack = dir.path().join("lack.sock");
    let asked_have = Engine::serve(&have, "1.41", |_| Some(1234));
    let asked_lack = Engine::serve(&lack, "1.41", |_| None);
    let mut f = Fake::new();
    backend_repo(&f);
    f.repo_file(
        "mcp/Dockerfile",
        "ARG PYTHON_IMAGE=python:3.11-slim\nFROM ${PYTHON_IMAGE}\nCOPY app.py /app/app.py\n",
    );
    f.unset_env("XTASK_DOCKER_API");
    f.set_env("DOCKER_HOST", &format!("unix://{}", have.display()));
    f.rule("docker", "image inspect*", 0, "-")
        .rule("docker", "build*", 0, "-");

    // Everything there: one round trip on the socket, no docker process at all.
    let r = f.xtask(&["-v", "build", "--target", "host"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("Engine API: one round trip, 2 pipelined inspects");
    r.says("backend   todo-backend:");
    r.says("cached (host daemon)");
    assert!(f.calls().is_empty(), "{:?}", f.calls());
    let asked = asked_have.asked();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].starts_with("/v1.41/images/todo-backend:")
            && asked[1].starts_with("/v1.41/images/todo-mcp:"),
        "{asked:?}"
    );

    // Nothing there: both are built, and nobody runs `docker image inspect`.
    f.set_env("DOCKER_HOST", &format!("unix://{}", lack.display()));
    let r = f.xtask(&["build", "--target", "host"]);
    assert_eq!(r.code, 0, "{r:?}");
    let calls = f.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls.iter().all(|c| c.starts_with("docker build")),
        "{calls:?}"
    );
    assert_eq!(asked_lack.asked().len(), 2);

    // A socket nobody serves: the same `docker image inspect` calls as without the API.
    std::fs::remove_file(f.dir.path().join("calls.log")).unwrap();
    let gone = dir.path().join("gone.sock");
    f.set_env("DOCKER_HOST", &format!("unix://{}", gone.display()));
    let r = f.xtask(&["-v", "build", "--target", "host"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("Engine API failed");
    let calls = f.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("docker image inspect --format {{.Id}} {{.Size}} todo-")),
        "{calls:?}"
    );
    r.says("cached (host daemon)");
}
