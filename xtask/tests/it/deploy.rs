use std::fs;

use crate::cluster_fakes::{bundles, calls, cluster, count, first_install, report, upgrade, WATCH};
use crate::harness::{snapshot, Fake, Run};

fn deploy(f: &Fake, extra: &[&str]) -> Run {
    let mut args = vec!["deploy", "--yes"];
    args.extend_from_slice(extra);
    f.xtask(&args)
}

#[test]
fn a_clean_first_install_becomes_ready_over_several_polls() {
    let f = cluster();
    first_install(&f);
    f.rule(
        "kubectl",
        WATCH,
        0,
        "progress-1.json,progress-1.json,progress-2.json,ready.json",
    );
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("(Helm 4)");
    r.says("waiting: deployment todo-app-frontend: 0/2 ready");
    r.says("deployment todo-app-backend: 1/2 ready");
    r.says("✓ todo-app revision 1 deployed: 6 pods Ready");
    assert!(r.stdout.contains("http://todo.local"), "{r:?}");
    assert_eq!(count(&f, "docker build"), 3);
    assert_eq!(
        count(&f, "kubectl --context minikube -n todo-app get deployments"),
        4
    );
    // minikube is asked about the profile once per deploy (each call takes a second or more).
    assert_eq!(count(&f, "minikube -p minikube status"), 1);
    assert_eq!(count(&f, "minikube profile list"), 1);
    // No rollback, no uninstall, no bundle on success.
    assert_eq!(count(&f, "helm rollback") + count(&f, "helm uninstall"), 0);
    assert!(bundles(&f).is_empty());

    // The secrets went through stdin, never the command line, and were generated 0600.
    let stdin = fs::read_to_string(f.scenario().join("helm.stdin")).unwrap();
    let values: serde_json::Value = serde_json::from_str(&stdin).unwrap();
    let secret = values["secrets"]["betterAuthSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 64);
    assert!(values["secrets"]["postgresPassword"].is_string());
    let log = calls(&f);
    assert!(!log.contains(&secret) && !r.stderr.contains(&secret) && !r.stdout.contains(&secret));
    let env = f.root.join(".data/secrets.env");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let rep = report(&f);
    let gates = rep["gates"].as_array().unwrap();
    assert_eq!(gates[0]["id"], "SC-001");
    assert_eq!(gates[0]["pass"], true);
    let sc002: Vec<_> = gates.iter().filter(|g| g["id"] == "SC-002").collect();
    assert_eq!(sc002.len(), 6, "{gates:?}");
    assert!(sc002.iter().all(|g| g["value"] == 2.0 && g["pass"] == true));
    let tasks: Vec<&str> = rep["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in [
        "doctor",
        "up (already running)",
        "build",
        "helm upgrade",
        "readiness watch",
        "deploy",
    ] {
        assert!(tasks.contains(&t), "{tasks:?}");
    }
    let cluster_calls: String = log
        .lines()
        .filter(|l| !l.starts_with("docker image inspect") && !l.contains(" version"))
        .map(|l| format!("{l}\n"))
        .collect();
    snapshot("deploy-first-install-calls", &cluster_calls);
}

#[test]
fn a_second_deploy_with_no_change_builds_nothing_and_passes_the_same_tags() {
    let f = cluster();
    f.rule("docker", "image inspect*", 0, "-|1,-|1,-|1,inspect.txt")
        .rule_err(
            "helm",
            "history todo-app*",
            0,
            "-|1,helm4-history.json",
            "helm4-history-notfound.stderr",
        )
        .rule(
            "helm",
            "upgrade --install*",
            0,
            "helm4-install.txt,helm4-upgrade.txt",
        )
        .rule("kubectl", WATCH, 0, "ready.json");
    let first = deploy(&f, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(count(&f, "docker build"), 3);
    let second = deploy(&f, &[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(count(&f, "docker build"), 3, "nothing rebuilt");
    assert!(second.stderr.contains("cached"), "{second:?}");
    assert!(second.stderr.contains("revision 2 deployed"), "{second:?}");
    let upgrades: Vec<String> = f.calls_starting("helm upgrade");
    assert_eq!(upgrades.len(), 2);
    assert_eq!(
        upgrades[0], upgrades[1],
        "the same content tags, so Helm leaves the Deployments (and pods) alone"
    );
    assert!(
        upgrades[0].contains("--set images.backend.tag="),
        "{upgrades:?}"
    );
    assert!(!upgrades[0].contains("--wait") && !upgrades[0].contains("--atomic"));
}

#[test]
fn an_upgrade_without_the_secrets_file_leaves_the_secrets_to_the_release() {
    let mut f = cluster();
    upgrade(&f);
    f.rule("kubectl", WATCH, 0, "ready.json");
    let stdin = |f: &Fake| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(f.scenario().join("helm.stdin")).unwrap()).unwrap()
    };
    // The release exists and nothing holds its secrets here: none is drawn anew (that would
    // sign everyone out and lock PostgreSQL out), none is passed, and the chart keeps its own.
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(stdin(&f), serde_json::json!({"secrets": {}}));
    assert!(!f.root.join(".data/secrets.env").exists());
    r.says("release todo-app exists and neither the environment nor .data/secrets.env holds secrets.betterAuthSecret, secrets.mcpServiceToken, secrets.postgresPassword: not passed");

    // The environment and the file still win over the release's values.
    let from_file = "secret-from-the-file-0123456789abcdef";
    f.repo_file(
        ".data/secrets.env",
        &format!("BETTER_AUTH_SECRET={from_file}\n"),
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        f.root.join(".data/secrets.env"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    f.set_env("MCP_SERVICE_TOKEN", "token-from-the-environment-0123");
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        stdin(&f),
        serde_json::json!({"secrets": {
            "betterAuthSecret": from_file,
            "mcpServiceToken": "token-from-the-environment-0123",
        }})
    );
    r.says("holds secrets.postgresPassword: not passed");
    assert!(!r.stderr.contains(from_file) && !r.stdout.contains(from_file));
}

#[test]
fn helm_3_and_helm_4_run_the_same_commands() {
    let run = |version: &str| {
        let f = cluster();
        f.fixture(version);
        upgrade(&f);
        // Replace the healthy machine's `helm version` answer, and answer with what that
        // Helm prints (Helm 4 adds a DESCRIPTION line, Helm 3 prints `"deleted":""`).
        let major = &version[..5];
        let rules = f.scenario().join("helm.rules");
        let text = fs::read_to_string(&rules)
            .unwrap()
            .replace("helm4-version.txt", version)
            .replace("\thelm4-", &format!("\t{major}-"));
        fs::write(&rules, text).unwrap();
        f.rule("kubectl", WATCH, 0, "ready.json");
        let r = deploy(&f, &[]);
        assert_eq!(r.code, 0, "{r:?}");
        let helm: Vec<String> = f.calls_starting("helm ");
        (r, helm)
    };
    let (r3, helm3) = run("helm3-version.txt");
    let (r4, helm4) = run("helm4-version.txt");
    assert!(r3.stderr.contains("helm 3.17.3 (Helm 3)"), "{r3:?}");
    assert!(r4.stderr.contains("helm 4.1.4 (Helm 4)"), "{r4:?}");
    assert_eq!(helm3, helm4);
}

#[test]
fn a_helm_failure_rolls_back_to_the_previous_revision_after_the_bundle() {
    let f = cluster();
    f.rule("docker", "image inspect*", 0, "inspect.txt")
        .rule("helm", "history todo-app*", 0, "helm4-history.json")
        .rule_err(
            "helm",
            "upgrade --install*",
            1,
            "-",
            "helm4-upgrade-failed.stderr",
        );
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 50, "{r:?}");
    r.says("✗ deploy failed: helm upgrade failed");
    r.says("see docs/troubleshooting.md#deploy_helm_upgrade_failed");
    r.says("at '/secrets/betterAuthSecret': minLength: got 9, want 32");
    r.says("rolled back to revision 1");
    let log = f.calls();
    let events = log.iter().position(|c| c.contains("get events")).unwrap();
    let rollback = log
        .iter()
        .position(|c| c == "helm rollback todo-app 1 --kube-context minikube --namespace todo-app")
        .unwrap_or_else(|| panic!("{log:?}"));
    assert!(
        events < rollback,
        "the bundle is written before the rollback: {log:?}"
    );
    let root = f.root.display().to_string();
    let cluster_calls: String = log
        .iter()
        .filter(|c| c.starts_with("helm ") || c.starts_with("kubectl --context"))
        .filter(|c| !c.contains(" version"))
        .map(|c| format!("{}\n", c.replace(&root, "<repo>")))
        .collect();
    snapshot("deploy-helm-failure-calls", &cluster_calls);
    let b = bundles(&f);
    assert_eq!(b.len(), 1);
    for file in [
        "summary.txt",
        "events.json",
        "helm-history.json",
        "doctor.json",
        "report.json",
    ] {
        assert!(
            b[0].join(file).is_file(),
            "{file} missing from {}",
            b[0].display()
        );
    }
}

/// A failing rollout on a first install: diagnosed, bundled, then uninstalled; the exit code
/// and the guide entry are the failure kind's.
fn failing(scenario: &str, extra: &[&str], code: i32, guide: &str) -> (Fake, Run) {
    failing_with(scenario, extra, code, guide, |_| {})
}

/// The same, after `setup` has changed the scene (events, the chart's values, the clock).
fn failing_with(
    scenario: &str,
    extra: &[&str],
    code: i32,
    guide: &str,
    setup: impl FnOnce(&mut Fake),
) -> (Fake, Run) {
    let mut f = cluster();
    setup(&mut f);
    first_install(&f);
    f.rule("kubectl", WATCH, 0, scenario).rule(
        "kubectl",
        "*get pods -l app=todo-chatbot -o json",
        0,
        scenario,
    );
    let r = deploy(&f, extra);
    assert_eq!(r.code, code, "{r:?}");
    r.says("✗ deploy failed");
    r.says(format!("see docs/troubleshooting.md#{guide}"));
    r.says("diagnose bundle: target/xtask/diagnose-");
    (f, r)
}

fn uninstalled(f: &Fake, r: &Run) {
    assert_eq!(
        count(
            f,
            "helm uninstall todo-app --kube-context minikube --namespace todo-app"
        ),
        1
    );
    r.says("first install failed: release todo-app uninstalled");
}

#[test]
fn crash_loop_shows_the_last_log_lines() {
    let (f, r) = failing("crashloop.json", &[], 51, "deploy_crash_loop");
    r.says("pod todo-app-backend-5b8f7d9c6-h3j9m container backend is crashing (CrashLoopBackOff, exit code 1, 4 restarts)");
    r.says("mcp_service_token: Field required");
    assert!(
        f.calls()
            .iter()
            .any(|c| c
                .contains("logs todo-app-backend-5b8f7d9c6-h3j9m -c backend --tail=20 --previous")),
        "{:?}",
        f.calls()
    );
    uninstalled(&f, &r);
    let b = bundles(&f);
    let summary = fs::read_to_string(b[0].join("summary.txt")).unwrap();
    assert!(summary.contains("CrashLoopBackOff"), "{summary}");
    assert!(b[0]
        .join("describe-todo-app-backend-5b8f7d9c6-h3j9m.txt")
        .is_file());
    assert!(b[0]
        .join("logs-todo-app-backend-5b8f7d9c6-h3j9m-backend-previous.txt")
        .is_file());
}

#[test]
fn a_missing_image_names_the_image_and_the_fix() {
    let (f, r) = failing("image-missing.json", &[], 52, "deploy_image_missing");
    r.says("image todo-frontend:3f9a1c2b7d4e is not in the cluster's daemon (ErrImageNeverPull)");
    r.says("fix: `cargo xtask build --target minikube frontend`");
    uninstalled(&f, &r);
}

#[test]
fn unschedulable_shows_requests_and_allocatable() {
    let (f, r) = failing(
        "unschedulable.json",
        &["--settle", "1s"],
        53,
        "deploy_unschedulable",
    );
    r.says("cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu.");
    r.says("the pod asks: cpu 100m, memory 192Mi");
    r.says("node minikube allocatable: cpu 2000m, memory 3916Mi");
    uninstalled(&f, &r);
}

#[test]
fn a_failing_readiness_probe_shows_its_events_at_the_timeout() {
    let (f, r) = failing(
        "not-ready.json",
        &["--timeout", "1s"],
        54,
        "deploy_not_ready",
    );
    r.says("not every pod was Ready within 1s");
    r.says("runs but is not Ready; its probe events:");
    r.says("Readiness probe failed: HTTP probe failed with statuscode: 503 (x7)");
    uninstalled(&f, &r);
}

#[test]
fn a_failed_migration_shows_its_log() {
    let (f, r) = failing("init-failed.json", &[], 55, "deploy_init_failed");
    r.says("init container migrate of pod todo-app-backend-5b8f7d9c6-h3j9m failed");
    r.says("password authentication failed for user \"todo\"");
    uninstalled(&f, &r);
}

#[test]
fn oom_killed_names_the_limit() {
    let (f, r) = failing("oom.json", &[], 56, "deploy_oom_killed");
    r.says(
        "killed for running out of memory (OOMKilled, exit code 137); its memory limit is 512Mi",
    );
    r.says("raise resources.backend.limits.memory");
    uninstalled(&f, &r);
}

#[test]
fn a_watch_timeout_fails_and_cleans_up() {
    let (f, r) = failing(
        "progress-1.json",
        &["--timeout", "1s"],
        57,
        "deploy_ready_timeout",
    );
    r.says("not every pod was Ready within 1s (deployment todo-app-frontend: 0/2 ready");
    // Each pod that is not Ready says what it waits for.
    r.says("pod todo-app-backend-5b8f7d9c6-h3j9m is not Ready: phase Pending; init container migrate running for 58 s; container backend waiting: PodInitializing");
    r.says("pod todo-app-frontend-7c9d8b6f5-k2x7p is not Ready: phase Pending; container frontend waiting: ContainerCreating");
    uninstalled(&f, &r);
}

/// Replace the namespace's events the fake kubectl answers with.
fn events_are(f: &Fake, file: &str) {
    let rules = f.scenario().join("kubectl.rules");
    let text = fs::read_to_string(&rules)
        .unwrap()
        .replace("\tevents.json\t", &format!("\t{file}\t"));
    fs::write(&rules, text).unwrap();
}

#[test]
fn container_config_create_and_run_errors_fail_after_the_settle_grace_with_the_kubelets_message() {
    for (scenario, says) in [
        (
            "config-error.json",
            [
                "pod todo-app-backend-5b8f7d9c6-h3j9m container migrate cannot be created: the kubelet could not assemble its configuration (CreateContainerConfigError)",
                "kubelet: couldn't find key DATABASE_URL in Secret todo-app/todo-external",
                "get secrets,configmaps",
            ],
        ),
        (
            "create-error.json",
            [
                "container backend cannot be created: the container runtime refused it (CreateContainerError)",
                "You have to remove (or rename) that container to be able to reuse that name.",
                "describe pod todo-app-backend-5b8f7d9c6-h3j9m",
            ],
        ),
        (
            "run-error.json",
            [
                "container backend was created but cannot start (RunContainerError)",
                "exec: \"todo-backend\": executable file not found in $PATH",
                "docker run --rm todo-backend:8c1d2e3f4a5b",
            ],
        ),
    ] {
        let (code, guide) = match scenario {
            "config-error.json" => (59, "deploy_container_config"),
            "create-error.json" => (60, "deploy_container_create"),
            _ => (61, "deploy_container_run"),
        };
        let (f, r) = failing(
            scenario,
            &["--settle", "1s", "--timeout", "30s"],
            code,
            guide,
        );
        r.says("pod problem(s) that waiting will not fix");
        for s in says {
            r.says(s);
        }
        uninstalled(&f, &r);
    }
    // Within the grace a config error that clears up is no failure.
    let f = cluster();
    first_install(&f);
    f.rule(
        "kubectl",
        WATCH,
        0,
        "config-error.json,config-error.json,ready.json",
    );
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_failed_mount_fails_with_its_event() {
    let (f, r) = failing_with(
        "mount-failed.json",
        &["--settle", "1s", "--timeout", "30s"],
        62,
        "deploy_mount_failed",
        |f| events_are(f, "events-mount-failed.json"),
    );
    r.says("pod todo-app-postgres-0 is stuck in ContainerCreating: a volume cannot be mounted (FailedMount)");
    r.says("event: Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[]: context deadline exceeded (x3)");
    r.says("get pvc,secrets,configmaps");
    uninstalled(&f, &r);
}

#[test]
fn an_init_container_past_its_budget_fails_with_its_logs() {
    // The chart's own values: databaseWaitSeconds 300, so the budget is 330 s; the migration
    // has been running since 10:00:02.
    let (f, r) = failing_with(
        "init-running.json",
        &["--timeout", "30s"],
        63,
        "deploy_init_overrun",
        |f| {
            let values = fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../helm/todo-app/values.yaml"),
            )
            .unwrap();
            f.repo_file("helm/todo-app/values.yaml", &values);
            f.set_env("XTASK_NOW", "2026-05-01T10:06:00Z");
        },
    );
    r.says("init container migrate of pod todo-app-backend-5b8f7d9c6-h3j9m is still running: running for 358 s, past its budget of 330 s (config.databaseWaitSeconds + 30 s)");
    r.says("password authentication failed"); // its logs
    assert!(
        f.calls()
            .iter()
            .any(|c| c.contains("logs todo-app-backend-5b8f7d9c6-h3j9m -c migrate --tail=20")),
        "{:?}",
        f.calls()
    );
    uninstalled(&f, &r);
}

#[test]
fn our_image_missing_from_its_registry_fails_at_once_and_names_the_build_step() {
    let (f, r) = failing(
        "pull-not-found.json",
        &["--timeout", "30s"],
        52,
        "deploy_image_missing",
    );
    r.says("image todo-backend:8c1d2e3f4a5b is in neither the node's image store nor the registry the kubelet pulls it from (ErrImagePull)");
    r.says("kubelet: rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/todo-backend:8c1d2e3f4a5b\": failed to resolve reference");
    r.says("fix: build it into the cluster, `cargo xtask build --target minikube backend`, or push it to that registry");
    uninstalled(&f, &r);
}

#[test]
fn a_registry_error_gets_its_retries_before_failing() {
    // PostgreSQL's pull backs off (429) for a few polls, then the kubelet gets it: no failure,
    // and no advice about building postgres:16-alpine.
    let f = cluster();
    first_install(&f);
    events_are(&f, "events-pull-429.json");
    f.rule(
        "kubectl",
        WATCH,
        0,
        "pull-backoff.json,pull-backoff.json,pull-backoff.json,ready.json",
    );
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    // After the grace it fails, with the kubelet's words and a fix that fits the cause.
    let (f, r) = failing_with(
        "pull-backoff.json",
        &["--pull-grace", "1s", "--timeout", "30s"],
        58,
        "deploy_image_pull_failed",
        |f| events_are(f, "events-pull-429.json"),
    );
    r.says("the kubelet cannot pull image postgres:16-alpine for pod todo-app-postgres-0 (ImagePullBackOff) and keeps retrying");
    r.says("kubelet: rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/library/postgres:16-alpine\": failed to resolve reference \"docker.io/library/postgres:16-alpine\": unexpected status code [manifests 16-alpine]: 429 Too Many Requests");
    r.says("docker pull postgres:16-alpine && minikube -p minikube image load postgres:16-alpine");
    assert!(!r.stderr.contains("cargo xtask build"), "{r:?}");
    uninstalled(&f, &r);
}

#[test]
fn keep_failed_leaves_the_release_for_inspection() {
    let (f, r) = failing(
        "crashloop.json",
        &["--keep-failed"],
        51,
        "deploy_crash_loop",
    );
    assert_eq!(count(&f, "helm uninstall") + count(&f, "helm rollback"), 0);
    r.says("left in place (--keep-failed)");
}

#[test]
fn a_slow_cold_start_fails_the_sc002_gate_unless_no_gates() {
    let f = cluster();
    upgrade(&f);
    f.rule("kubectl", WATCH, 0, "ready-slow.json");
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("✗ SC-002 cold start todo-app-mcp-6d5c4b3a2-z9y8x (started → Ready): 5 s");
    r.says("1 gate(s) over budget");
    let r = deploy(&f, &["--no-gates"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        report(&f)["gates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["pass"] == false)
            .count(),
        1
    );
}

#[test]
fn the_doctor_stops_a_deploy_with_its_id_and_exit_code() {
    let mut f = cluster();
    f.missing("helm");
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 45, "{r:?}");
    r.says("[TOOL_HELM_MISSING]");
    r.says("see docs/troubleshooting.md#tool_helm_missing");
    assert_eq!(
        count(&f, "docker build") + count(&f, "minikube -p minikube start"),
        0
    );
}

#[test]
fn a_tool_missing_from_path_makes_deploy_offer_setup() {
    let mut f = cluster();
    // No override and no helm on PATH: deploy offers `setup`; without a terminal or --yes it
    // refuses and says how, before building anything.
    f.unset_env("XTASK_HELM").set_env("PATH", "/usr/bin:/bin");
    // Any download goes to a closed loopback port: nothing may leave this machine.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    f.set_env(
        "XTASK_SETUP_BASE_URL",
        &format!("http://127.0.0.1:{closed}"),
    );
    let r = f.xtask(&["deploy"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("missing: helm: run `cargo xtask setup` first, or pass --yes");
    assert_eq!(count(&f, "docker build") + count(&f, "helm"), 0);

    // With --yes it runs setup; the mirror does not answer, so the deploy stops before
    // anything is built and nothing is installed. setup runs the real curl: the binary.
    let r = f.xtask_process(&["deploy", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says(format!("127.0.0.1:{closed}"));
    assert_eq!(count(&f, "docker build"), 0);
    let installed: Vec<_> = fs::read_dir(f.root.join(".tools"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !installed
            .iter()
            .any(|n| n.to_string_lossy().starts_with("helm-")),
        "{installed:?}"
    );
}

#[test]
fn dry_run_prints_the_plan_with_secrets_redacted() {
    let mut f = cluster();
    let secret = "env-secret-that-must-never-show-0123456789";
    f.set_env("BETTER_AUTH_SECRET", secret);
    f.rule("docker", "image inspect*", 1, "-").rule_err(
        "helm",
        "history todo-app*",
        1,
        "-",
        "helm4-history-notfound.stderr",
    );
    let r = deploy(&f, &["--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    assert!(
        !f.root.join(".data/secrets.env").exists(),
        "a dry run writes nothing"
    );
    r.says("would generate .data/secrets.env");
    assert_eq!(count(&f, "docker build") + count(&f, "helm upgrade"), 0);
    assert!(!f.root.join("target/xtask/report.json").exists());
    let plan = r.stdout.replace(&f.root.display().to_string(), "<repo>");
    snapshot("deploy-dry-run", &plan);
}

#[test]
fn dry_run_on_a_machine_with_only_docker_still_shows_the_whole_plan() {
    let mut f = cluster();
    for tool in ["XTASK_MINIKUBE", "XTASK_KUBECTL", "XTASK_HELM"] {
        f.unset_env(tool);
    }
    // No kubectl, helm or minikube anywhere: not in .tools/, and a PATH with only what the
    // fake docker script itself needs.
    let bin = f.dir.path().join("only-basics");
    fs::create_dir_all(&bin).unwrap();
    for tool in ["bash", "env", "basename", "cat", "mkdir", "sleep"] {
        let real = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {tool} in /usr/bin or /bin"));
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    f.set_env("PATH", &bin.display().to_string());
    let secret = "env-secret-that-must-never-show-0123456789";
    f.set_env("BETTER_AUTH_SECRET", secret);
    let r = deploy(&f, &["--dry-run"]);
    // A real deploy would start (it offers to fetch the three tools), so exit 0.
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r
        .stdout
        .contains("would run: cargo xtask setup kubectl helm minikube"));
    r.says("! not verified: minikube: not found");
    assert!(
        r.stdout.contains("would run: minikube start -p minikube"),
        "{r:?}"
    );
    for s in ["todo-frontend:", "todo-backend:", "todo-mcp:"] {
        assert!(
            r.stdout.contains(&format!("would build: {s}")),
            "{s}\n{r:?}"
        );
    }
    assert!(r.stdout.contains("would run: "), "{r:?}");
    assert!(r.stdout.contains("upgrade --install todo-app"), "{r:?}");
    assert!(
        r.stdout
            .contains("secrets.betterAuthSecret=*** (from environment)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("would watch:"), "{r:?}");
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    // Only docker was asked anything, and nothing that changes a thing.
    assert!(
        f.calls().iter().all(|c| c.starts_with("docker version")),
        "{:?}",
        f.calls()
    );
}

#[test]
fn an_unreachable_cluster_is_named_before_anything_is_installed() {
    for (version, stderr) in [
        ("helm4-version.txt", "helm4-history-unreachable.stderr"),
        ("helm3-version.txt", "helm3-history-unreachable.stderr"),
    ] {
        let f = cluster();
        f.fixture(version);
        let rules = f.scenario().join("helm.rules");
        let text = fs::read_to_string(&rules)
            .unwrap()
            .replace("helm4-version.txt", version);
        fs::write(&rules, text).unwrap();
        f.rule("docker", "image inspect*", 0, "inspect.txt")
            .rule_err("helm", "history todo-app*", 1, "-", stderr);
        let r = deploy(&f, &[]);
        assert_eq!(r.code, 1, "{r:?}");
        r.says("could not read the release's history");
        r.says("ubernetes cluster unreachable: context \"minikube\" does not exist");
        r.says("fix: is the cluster up? `cargo xtask up`");
        assert_eq!(count(&f, "helm upgrade") + count(&f, "helm uninstall"), 0);
    }
}

#[test]
fn a_first_install_that_helm_refuses_leaves_nothing_to_undo() {
    let f = cluster();
    f.rule("docker", "image inspect*", 0, "inspect.txt")
        .rule_err(
            "helm",
            "history todo-app*",
            1,
            "-",
            "helm4-history-notfound.stderr",
        )
        .rule_err(
            "helm",
            "upgrade --install*",
            1,
            "-",
            "helm4-upgrade-failed.stderr",
        );
    // Replace the cluster's uninstall rule: there is no release to uninstall.
    let rules = f.scenario().join("helm.rules");
    let text = fs::read_to_string(&rules).unwrap().replace(
        "uninstall *\t0\thelm4-uninstall.txt\t-",
        "uninstall *\t1\t-\thelm4-uninstall-notfound.stderr",
    );
    fs::write(&rules, text).unwrap();
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 50, "{r:?}");
    r.says("nothing was installed, so there is nothing to undo");
    assert_eq!(count(&f, "helm uninstall"), 1);
    assert_eq!(count(&f, "helm rollback"), 0);
}

#[test]
fn deploy_starts_the_profile_first_when_it_is_not_running() {
    let f = cluster();
    f.file("no-profiles.json", r#"{"invalid":[],"valid":[]}"#);
    f.file("not-found.txt", "* Profile \"minikube\" not found.\n");
    // Before `minikube start`: no profile; after it, the healthy answers.
    let rules = f.scenario().join("minikube.rules");
    let text = fs::read_to_string(&rules)
        .unwrap()
        .replace(
            "-p minikube status -o json\t0\tminikube-status-running.json",
            "-p minikube status -o json\t0\tnot-found.txt|85,minikube-status-running.json",
        )
        .replace(
            "profile list -o json\t0\tminikube-profile-list.json",
            "profile list -o json\t0\tno-profiles.json,minikube-profile-list.json",
        );
    fs::write(&rules, text).unwrap();
    f.rule("minikube", "-p minikube start*", 0, "-");
    first_install(&f);
    f.rule("kubectl", WATCH, 0, "ready.json");
    let r = deploy(&f, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let calls = f.calls();
    let start = calls
        .iter()
        .position(|c| c == "minikube -p minikube start --driver docker --memory 4096 --cpus 2")
        .unwrap_or_else(|| panic!("{calls:?}"));
    let build = calls
        .iter()
        .position(|c| c.starts_with("docker build"))
        .unwrap();
    assert!(start < build, "{calls:?}");
    let tasks = report(&f)["tasks"].to_string();
    assert!(tasks.contains("up (started)"), "{tasks}");
}
