//! `bench` against the fakes: the `docker build`s it times are exactly the ones `build`
//! would run, the hash is compared with `sha256sum` over the same files, and sections that
//! need what the machine lacks say so instead of failing.

use crate::harness::Fake;

fn backend_repo(f: &Fake) {
    f.repo_file(
        "backend/Dockerfile",
        "ARG PYTHON_IMAGE=python:3.11-slim\nFROM ${PYTHON_IMAGE}\nCOPY app.py /app/app.py\n",
    )
    .repo_file("backend/app.py", "print('hi')\n")
    .repo_file("backend/notes.md", "not sent\n")
    .repo_file("backend/.dockerignore", "*.md\n");
}

#[test]
fn bench_times_the_same_docker_build_that_build_would_run() {
    let mut f = Fake::new();
    backend_repo(&f);
    f.unset_env("XTASK_SMOKE_DATABASE_URL");
    f.file("inspect.txt", "sha256:abc 1234\n");
    f.rule("docker", "image inspect*", 0, "inspect.txt")
        .rule("docker", "build*", 0, "-");
    // The binary: bench times `cargo xtask build` by running the xtask itself.
    let r = f.xtask_process(&[
        "bench",
        "--only",
        "build,hash,coldstart,cluster",
        "--rounds",
        "2",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let builds: Vec<String> = f.calls_starting("docker build");
    // The warm-up and one per round.
    assert_eq!(builds.len(), 3, "{builds:?}");

    // What `build` itself would run for the same image.
    std::fs::write(
        f.scenario().join("docker.rules"),
        "image inspect*\t1\t-\t-\n",
    )
    .unwrap();
    let plan = f.xtask_process(&[
        "build",
        "--dry-run",
        "--target",
        "host",
        "--network",
        "host",
    ]);
    let would = plan
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("would run: "))
        .unwrap_or_else(|| panic!("{plan:?}"))
        .to_string();
    assert!(builds.iter().all(|b| *b == would), "{builds:?}\nvs {would}");

    let bench: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.root.join("target/xtask/bench.json")).unwrap(),
    )
    .unwrap();
    let figures = bench["figures"].as_array().unwrap();
    let named = |name: &str| {
        figures
            .iter()
            .find(|g| g["name"].as_str().unwrap_or("").starts_with(name))
            .unwrap_or_else(|| panic!("no figure {name}: {bench}"))
    };
    let docker = named("cached `docker build`");
    assert_eq!(docker["samples"].as_array().unwrap().len(), 2);
    let cmd = docker["command"].as_str().unwrap();
    assert!(
        cmd.starts_with("DOCKER_BUILDKIT=0 docker build --force-rm --network host ")
            && cmd.ends_with(" -f backend/Dockerfile backend"),
        "{cmd}"
    );
    assert!(named("no-op build speed-up")["value"].as_f64().unwrap() > 0.0);
    let sha = named("backend: `sha256sum`");
    assert_eq!(
        sha["command"],
        "sha256sum $(cat target/xtask/bench-files/backend.txt)"
    );
    let listed =
        std::fs::read_to_string(f.root.join("target/xtask/bench-files/backend.txt")).unwrap();
    // The tag hashes the Dockerfile, then the context's files, where it is one of them.
    assert_eq!(
        listed,
        "backend/Dockerfile\nbackend/.dockerignore\nbackend/Dockerfile\nbackend/app.py\n"
    );
    assert!(named("backend context hash")["note"]
        .as_str()
        .unwrap()
        .starts_with("3 files,"));
    // Without a database or a cluster those sections say why they did not run.
    assert!(bench["skipped"]["coldstart"]
        .as_str()
        .unwrap()
        .contains("--database-url"));
    assert!(bench["skipped"]["cluster"]
        .as_str()
        .unwrap()
        .contains("--context"));
    let md = std::fs::read_to_string(f.root.join("target/xtask/bench.md")).unwrap();
    assert!(md.contains("## build") && md.contains("## hash"), "{md}");
}
