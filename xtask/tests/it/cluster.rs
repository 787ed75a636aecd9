//! `up`, `status`, `logs`, `down`, `diagnose`, `stability`, and the fixtures themselves.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::cluster_fakes::{bundles, cluster, count, fixtures_dir, WATCH};
use crate::harness::Fake;

/// Replace the healthy machine's answer to one minikube call.
fn minikube_answers(f: &Fake, glob: &str, code: i32, out: &str) {
    let rules = f.scenario().join("minikube.rules");
    let kept: String = fs::read_to_string(&rules)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(&format!("{glob}\t")))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&rules, format!("{glob}\t{code}\t{out}\t-\n{kept}")).unwrap();
}

#[test]
fn up_reports_a_running_profile_and_waits_for_the_ingress() {
    let f = cluster();
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("profile `minikube` is running");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
    assert_eq!(count(&f, "minikube -p minikube addons enable"), 0);
    assert!(f.calls().contains(&"kubectl --context minikube -n ingress-nginx wait --for=condition=ready pod -l app.kubernetes.io/component=controller --timeout=300s".to_string()));
}

fn absent_profile(f: &Fake) {
    f.file("no-profiles.json", r#"{"invalid":[],"valid":[]}"#);
    f.file("addons-off.json", r#"{"ingress":{"Profile":"minikube","Status":"disabled"},"storage-provisioner":{"Profile":"minikube","Status":"enabled"}}"#);
    f.file(
        "not-found.txt",
        "* Profile \"minikube\" not found. Run \"minikube profile list\" to view all profiles.\n",
    );
    minikube_answers(f, "-p minikube status -o json", 85, "not-found.txt");
    minikube_answers(f, "profile list -o json", 0, "no-profiles.json");
    minikube_answers(f, "-p minikube addons list -o json", 0, "addons-off.json");
    f.rule("minikube", "-p minikube start*", 0, "-").rule(
        "minikube",
        "-p minikube addons enable ingress",
        0,
        "-",
    );
}

#[test]
fn up_creates_a_profile_only_when_allowed() {
    let f = cluster();
    absent_profile(&f);
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("pass --yes");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);

    let r = f.xtask(&["up", "--yes", "--kubernetes-version", "v1.31.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let calls = f.calls();
    let start = calls
        .iter()
        .position(|c| c == "minikube -p minikube start --driver docker --memory 4096 --cpus 2 --kubernetes-version v1.31.0")
        .unwrap_or_else(|| panic!("{calls:?}"));
    let enable = calls
        .iter()
        .position(|c| c == "minikube -p minikube addons enable ingress")
        .unwrap();
    let wait = calls
        .iter()
        .position(|c| c.contains("-n ingress-nginx wait"))
        .unwrap();
    assert!(start < enable && enable < wait, "{calls:?}");
    r.says("is up with ingress");
}

#[test]
fn up_uses_an_existing_small_profile_and_refuses_to_create_one() {
    // minikube sizes a profile created by a plain `minikube start` to 25 % of RAM, 3072 MB at
    // least: running, it is the cluster to use (the doctor's fit check judges the room).
    let f = cluster();
    let list = fs::read_to_string(f.scenario().join("minikube-profile-list.json")).unwrap();
    f.file(
        "small.json",
        &list.replace("\"Memory\":4096", "\"Memory\":3072"),
    );
    minikube_answers(&f, "profile list -o json", 0, "small.json");
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("profile `minikube` is running");

    // A new profile the xtask creates still gets 4 GB: asking for less is refused.
    let f = cluster();
    absent_profile(&f);
    let r = f.xtask(&["up", "--yes", "--memory", "2048"]);
    assert_eq!(r.code, 23, "{r:?}");
    r.says("[MINIKUBE_MEMORY_LOW]");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
}

/// A stopped profile answers `minikube status` with exit 7 and every component Stopped.
fn stopped_profile(f: &Fake, driver: &str) {
    f.fixture("minikube-status-stopped.json")
        .fixture("minikube-start-driver-mismatch.stderr");
    let list = fs::read_to_string(f.scenario().join("minikube-profile-list.json")).unwrap();
    f.file(
        "stopped-list.json",
        &list
            .replace("\"Status\":\"Running\"", "\"Status\":\"Stopped\"")
            .replace("\"Driver\":\"docker\"", &format!("\"Driver\":\"{driver}\"")),
    );
    minikube_answers(
        f,
        "-p minikube status -o json",
        7,
        "minikube-status-stopped.json",
    );
    minikube_answers(f, "profile list -o json", 0, "stopped-list.json");
    // As minikube does: a --driver other than the profile's exits GUEST_DRIVER_MISMATCH.
    f.rule_err(
        "minikube",
        &format!("-p minikube start*--driver [!{}]*", &driver[..1]),
        81,
        "-",
        "minikube-start-driver-mismatch.stderr",
    )
    .rule("minikube", "-p minikube start*", 0, "-");
}

#[test]
fn up_starts_an_existing_profile_with_its_own_settings() {
    // Created with kvm2: `--driver docker` would make minikube exit GUEST_DRIVER_MISMATCH.
    let f = cluster();
    stopped_profile(&f, "kvm2");
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 0, "{r:?}");
    let starts: Vec<String> = f.calls_starting("minikube -p minikube start");
    assert_eq!(starts, ["minikube -p minikube start"], "{r:?}");
    r.says("as it was created: driver kvm2, 4096 MB, 2 CPUs");
}

#[test]
fn up_refuses_settings_the_existing_profile_does_not_have() {
    for (args, names) in [
        (
            &["up", "--driver", "kvm2"][..],
            "driver docker (you asked for kvm2)",
        ),
        (
            &["up", "--memory", "8192"][..],
            "4096 MB (you asked for 8192 MB)",
        ),
        (&["up", "--cpus", "4"][..], "2 CPUs (you asked for 4)"),
        (
            &["up", "--kubernetes-version", "v1.30.0"][..],
            "Kubernetes v1.31.0 (you asked for v1.30.0)",
        ),
    ] {
        let f = cluster();
        let r = f.xtask(args);
        assert_eq!(r.code, 11, "{args:?}: {r:?}");
        r.says(names);
        r.says("[MINIKUBE_PROFILE_MISMATCH]");
        r.says("minikube delete -p minikube && cargo xtask up");
        assert_eq!(count(&f, "minikube -p minikube start"), 0);
    }
    // The profile's own values (and minikube's alias of a driver) are no conflict.
    let f = cluster();
    let r = f.xtask(&[
        "up",
        "--driver",
        "docker",
        "--memory",
        "4096",
        "--cpus",
        "2",
        "--kubernetes-version",
        "1.31.0",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let f = cluster();
    stopped_profile(&f, "kvm2");
    let r = f.xtask(&["up", "--driver", "kvm"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn up_as_root_with_the_docker_driver_says_so_before_starting() {
    let mut f = cluster();
    absent_profile(&f);
    f.set_env("XTASK_EUID", "0");
    let r = f.xtask(&["up", "--yes"]);
    assert_eq!(r.code, 12, "{r:?}");
    r.says("minikube refuses the docker driver with root privileges (it exits DRV_AS_ROOT)");
    r.says("[MINIKUBE_DRIVER_AS_ROOT]");
    r.says("sudo usermod -aG docker $USER");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
    // A stopped profile of the docker driver: the same, before `minikube start`.
    let mut f = cluster();
    stopped_profile(&f, "docker");
    f.set_env("XTASK_EUID", "0");
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 12, "{r:?}");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
    // Root with a VM driver is minikube's business, not ours.
    let mut f = cluster();
    stopped_profile(&f, "kvm2");
    f.set_env("XTASK_EUID", "0");
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn up_checks_docker_desktops_memory_before_asking_minikube_for_4_gb() {
    let f = cluster();
    absent_profile(&f);
    f.fixture("docker-system-info-desktop.json");
    f.rule(
        "docker",
        "system info --format*",
        0,
        "docker-system-info-desktop.json",
    );
    let r = f.xtask(&["up", "--yes"]);
    assert_eq!(r.code, 22, "{r:?}");
    r.says("Docker Desktop gives its VM 2996 MB of memory; a minikube profile of 4096 MB does not fit in it");
    r.says("[DOCKER_MEMORY_LOW]");
    r.says("Settings → Resources → Memory: at least 5 GB");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
    // Docker Engine on Linux: the host's memory is minikube's to check.
    let f = cluster();
    absent_profile(&f);
    f.fixture("docker-system-info.json");
    f.rule(
        "docker",
        "system info --format*",
        0,
        "docker-system-info.json",
    );
    let r = f.xtask(&["up", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(count(&f, "minikube -p minikube start --driver docker"), 1);
}

#[test]
fn up_updates_a_stale_kube_context_instead_of_waiting_on_it() {
    let f = cluster();
    f.fixture("minikube-status-misconfigured.json")
        .fixture("minikube-update-context.txt");
    // minikube status exits 4 (k8s not running flag) when the kubeconfig is Misconfigured.
    minikube_answers(
        &f,
        "-p minikube status -o json",
        4,
        "minikube-status-misconfigured.json",
    );
    f.rule(
        "minikube",
        "-p minikube update-context",
        0,
        "minikube-update-context.txt",
    );
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("points at an old address of the cluster (minikube status: Kubeconfig Misconfigured): running `minikube -p minikube update-context`");
    let calls = f.calls();
    let update = calls
        .iter()
        .position(|c| c == "minikube -p minikube update-context")
        .unwrap_or_else(|| panic!("{calls:?}"));
    let readyz = calls.iter().position(|c| c.contains("/readyz")).unwrap();
    assert!(update < readyz, "{calls:?}");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
}

#[test]
fn up_reads_a_multi_node_profile_as_running() {
    let f = cluster();
    f.fixture("minikube-status-multinode.json");
    minikube_answers(
        &f,
        "-p minikube status -o json",
        0,
        "minikube-status-multinode.json",
    );
    let r = f.xtask(&["up"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("profile `minikube` is running");
    assert_eq!(count(&f, "minikube -p minikube start"), 0);
}

#[test]
fn status_shows_release_pods_images_and_url() {
    let f = cluster();
    f.rule("helm", "get metadata todo-app*", 0, "helm-metadata.json")
        .rule(
            "kubectl",
            "*get pods -l app=todo-chatbot -o json",
            0,
            "ready.json",
        );
    let r = f.xtask(&["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "release todo-app revision 2 (deployed), namespace todo-app, last deployed 2026-05-01T10:05:00Z, chart todo-app-0.1.0 (app 0.1.0)"
        ),
        "{r:?}"
    );
    // Only the release's metadata is asked for: `helm status -o json` prints its values.
    assert!(
        f.calls().contains(
            &"helm get metadata todo-app --kube-context minikube --namespace todo-app -o json"
                .to_string()
        ),
        "{:?}",
        f.calls()
    );
    assert_eq!(count(&f, "helm status"), 0);
    assert!(r.stdout.contains("todo-app-backend-5b8f7d9c6-h3j9m   1/1    Running             0         todo-backend:8c1d2e3f4a5b"), "{r:?}");
    assert!(r.stdout.contains("images: postgres:16-alpine, todo-backend:8c1d2e3f4a5b, todo-frontend:3f9a1c2b7d4e, todo-mcp:5e6f7a8b9c0d"), "{r:?}");
    assert!(
        r.stdout
            .contains("url: http://todo.local  (todo.local → 192.168.49.2)"),
        "{r:?}"
    );
    let j = f.xtask(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["pods"].as_array().unwrap().len(), 6);
    assert_eq!(
        (v["revision"].as_u64(), v["chart"].as_str()),
        (Some(2), Some("todo-app-0.1.0"))
    );

    let f = cluster();
    f.rule_err(
        "helm",
        "get metadata todo-app*",
        1,
        "-",
        "helm4-history-notfound.stderr",
    );
    let r = f.xtask(&["status"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("is not installed") && r.stderr.contains("cargo xtask deploy"),
        "{r:?}"
    );
}

#[test]
fn logs_of_one_component() {
    let f = cluster();
    let r = f.xtask(&["logs", "backend", "--tail", "5"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Application startup failed"), "{r:?}");
    assert!(f.calls().contains(&"kubectl --context minikube -n todo-app logs -l app=todo-chatbot,component=backend --all-containers --prefix --tail=5 --max-log-requests=10".to_string()));
    let r = f.xtask(&["logs", "web"]);
    assert_eq!(r.code, 1);
    r.says("components: frontend, backend, mcp, postgres");
}

#[test]
fn down_asks_unless_yes_and_purges_what_it_is_told_to() {
    let f = cluster();
    f.rule("kubectl", "*delete *", 0, "-")
        .rule("minikube", "-p minikube delete", 0, "-");
    let r = f.xtask(&["down", "--purge"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("uninstall release todo-app, then delete namespace todo-app and its volumes");
    r.says("pass --yes");
    assert_eq!(count(&f, "helm uninstall"), 0);

    let r = f.xtask(&["down", "--yes", "--purge", "--cluster"]);
    assert_eq!(r.code, 0, "{r:?}");
    let calls: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| !c.contains("version"))
        .collect();
    assert_eq!(
        calls,
        [
            "helm uninstall todo-app --kube-context minikube --namespace todo-app",
            "kubectl --context minikube -n todo-app delete pvc --all --ignore-not-found --timeout=5m",
            "kubectl --context minikube delete namespace todo-app --ignore-not-found --timeout=5m",
            "minikube -p minikube delete",
        ]
    );

    let f = cluster();
    std::fs::write(
        f.scenario().join("helm.rules"),
        "uninstall *\t1\t-\thelm4-uninstall-notfound.stderr\n",
    )
    .unwrap();
    let r = f.xtask(&["down", "-y"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("was not installed");
}

#[test]
fn diagnose_writes_a_bundle_and_says_when_there_is_no_ai() {
    let mut f = cluster();
    let nowhere = f.dir.path().join("absent/kubectl-ai").display().to_string();
    f.set_env("XTASK_KUBECTL_AI", &nowhere);
    let nowhere = f.dir.path().join("absent/kagent").display().to_string();
    f.set_env("XTASK_KAGENT", &nowhere);
    f.rule("kubectl", WATCH, 0, "crashloop.json")
        .rule(
            "kubectl",
            "*get pods -l app=todo-chatbot -o json",
            0,
            "crashloop.json",
        )
        .rule("helm", "history todo-app*", 0, "helm4-history.json");
    let r = f.xtask(&["diagnose", "--ai"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("container backend is crashing (CrashLoopBackOff"),
        "{r:?}"
    );
    r.says("kubectl-ai is not installed");
    let b = bundles(&f);
    assert_eq!(b.len(), 1);
    for file in [
        "summary.txt",
        "events.json",
        "workloads-and-pods.json",
        "helm-history.json",
        "doctor.json",
        "describe-todo-app-backend-5b8f7d9c6-h3j9m.txt",
        "logs-todo-app-backend-5b8f7d9c6-h3j9m-migrate.txt",
        "logs-todo-app-backend-5b8f7d9c6-h3j9m-backend-previous.txt",
    ] {
        assert!(
            b[0].join(file).is_file(),
            "{file} missing: {:?}",
            fs::read_dir(&b[0])
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
    }
    let doctor: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(b[0].join("doctor.json")).unwrap()).unwrap();
    assert!(doctor
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "helm"));
}

/// diagnose against one scenario (pods and workloads), with no AI helper around.
fn diagnose_on(scenario: &str, events: &str) -> (Fake, crate::harness::Run) {
    let f = cluster();
    let rules = f.scenario().join("kubectl.rules");
    let text = fs::read_to_string(&rules)
        .unwrap()
        .replace("\tevents.json\t", &format!("\t{events}\t"));
    fs::write(&rules, text).unwrap();
    f.rule("kubectl", WATCH, 0, scenario)
        .rule(
            "kubectl",
            "*get pods -l app=todo-chatbot -o json",
            0,
            scenario,
        )
        .rule("helm", "history todo-app*", 0, "helm4-history.json");
    let r = f.xtask(&["diagnose"]);
    assert_eq!(r.code, 0, "{r:?}");
    (f, r)
}

#[test]
fn diagnose_never_calls_a_pod_that_is_not_ready_ready() {
    // The migration still waits for the database: no named problem, but not Ready either.
    let (f, r) = diagnose_on("init-running.json", "events.json");
    assert!(!r.stdout.contains("are Ready"), "{r:?}");
    assert!(
        r.stdout.contains("pod todo-app-backend-5b8f7d9c6-h3j9m is not Ready: phase Pending; init container migrate running for 58 s; container backend waiting: PodInitializing"),
        "{r:?}"
    );
    let b = bundles(&f);
    assert!(b[0]
        .join("describe-todo-app-backend-5b8f7d9c6-h3j9m.txt")
        .is_file());
    // Stuck in ContainerCreating with FailedMount events: named, with the event.
    let (_, r) = diagnose_on("mount-failed.json", "events-mount-failed.json");
    assert!(
        r.stdout.contains("pod todo-app-postgres-0 is stuck in ContainerCreating: a volume cannot be mounted (FailedMount)")
            && r.stdout.contains("unmounted volumes=[data]"),
        "{r:?}"
    );
    // The kubelet's own words for a waiting state it names.
    let (_, r) = diagnose_on("config-error.json", "events.json");
    assert!(
        r.stdout.contains("CreateContainerConfigError")
            && r.stdout
                .contains("couldn't find key DATABASE_URL in Secret todo-app/todo-external"),
        "{r:?}"
    );
    // All Ready is said only when it is so.
    let (_, r) = diagnose_on("ready.json", "events.json");
    assert!(
        r.stdout.contains("all 6 pods are Ready with no restarts"),
        "{r:?}"
    );
}

#[test]
fn diagnose_ai_hands_the_summary_to_kubectl_ai() {
    let mut f = cluster();
    let ai = f.dir.path().join("bin/kubectl-ai");
    std::os::unix::fs::symlink(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/fake-tool.sh"),
        &ai,
    )
    .unwrap();
    f.set_env("XTASK_KUBECTL_AI", &ai.display().to_string());
    f.file(
        "ai-answer.txt",
        "The backend misses MCP_SERVICE_TOKEN: set secrets.mcpServiceToken.\n",
    );
    f.rule("kubectl-ai", "--quiet*", 0, "ai-answer.txt")
        .rule("kubectl", WATCH, 0, "crashloop.json")
        .rule(
            "kubectl",
            "*get pods -l app=todo-chatbot -o json",
            0,
            "crashloop.json",
        )
        .rule("helm", "history todo-app*", 0, "helm4-history.json");
    let r = f.xtask(&["diagnose", "--ai"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("set secrets.mcpServiceToken"), "{r:?}");
    // The question spans lines, and so does its entry in the call log.
    let log = f.calls().join("\n");
    let asked = &log[log.find("kubectl-ai --quiet").unwrap()..];
    assert!(
        asked.contains("The Helm release todo-app in namespace todo-app"),
        "{asked}"
    );
    assert!(asked.contains("CrashLoopBackOff"), "{asked}");
}

#[test]
fn stability_passes_without_restarts_and_names_a_restart() {
    let f = cluster();
    f.rule(
        "kubectl",
        "*get pods -l app=todo-chatbot -o json",
        0,
        "ready.json",
    );
    let r = f.xtask(&["stability", "--watch", "1s"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("✓ SC-004: no restart in 1s");

    let f = cluster();
    f.rule(
        "kubectl",
        "*get pods -l app=todo-chatbot -o json",
        0,
        "ready.json,ready.json,restarted.json",
    );
    let r = f.xtask(&["stability", "--watch", "5s"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("✗ pod todo-app-backend-5b8f7d9c6-t6v2r container backend restarted (OOMKilled, exit code 137) after Ready");
    assert!(
        r.stderr.contains("Application startup failed"),
        "the last log lines: {r:?}"
    );
    let rep: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(f.root.join("target/xtask/stability/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rep["gates"][0]["id"], "SC-004");
    assert_eq!(rep["gates"][0]["pass"], false);
}

/// Every Kubernetes object the fakes replay is valid against the API schema (strict: no
/// unknown fields). `kubectl get a,b -o json` wraps them in a `v1/List`, which has no schema,
/// so each item is checked on its own.
#[test]
fn cluster_fixtures_are_valid_kubernetes_objects() {
    let tool = std::env::var("XTASK_KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .ok()
        .or_else(|| {
            Some(PathBuf::from("/opt/ci-tools/bin/kubernetes-validate")).filter(|p| p.is_file())
        })
        .or_else(|| which("kubernetes-validate"));
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let Some(tool) = tool else {
        assert!(
            !ci,
            "kubernetes-validate is required in CI (pip install kubernetes-validate)"
        );
        eprintln!("skipped: kubernetes-validate is not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for e in fs::read_dir(fixtures_dir()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with("helm") {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(e.path()).unwrap()).unwrap();
        let items = v["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not a list"));
        assert!(!items.is_empty(), "{name}");
        for (i, item) in items.iter().enumerate() {
            let p = tmp.path().join(format!("{name}-{i}.json"));
            fs::write(&p, item.to_string()).unwrap();
            files.push(p);
        }
    }
    assert!(files.len() > 50, "{}", files.len());
    let out = Command::new(&tool)
        .arg("--strict")
        .arg("--quiet")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The JSON fixtures are what `make-fixtures.py` writes: change the script, not the files.
#[test]
fn cluster_fixtures_match_their_generator() {
    let Some(python) = which("python3") else {
        eprintln!("skipped: python3 is not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(python)
        .arg(fixtures_dir().join("make-fixtures.py"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for e in fs::read_dir(tmp.path()).unwrap().flatten() {
        let name = e.file_name();
        let committed = fs::read_to_string(fixtures_dir().join(&name)).unwrap_or_default();
        assert_eq!(
            committed,
            fs::read_to_string(e.path()).unwrap(),
            "{} differs from make-fixtures.py's output: run `python3 make-fixtures.py` in tests/fixtures/cluster",
            name.to_string_lossy()
        );
    }
}

/// The helm fixtures are what the real Helm 4 and Helm 3 print (`make-helm-fixtures.sh`
/// drives them with the memory storage driver; no cluster is asked). Only the test hook's
/// wall-clock start and end times differ from run to run.
#[test]
fn helm_fixtures_are_what_the_real_helm_4_and_helm_3_print() {
    let find = |var: &str, name: &str| {
        std::env::var(var)
            .map(PathBuf::from)
            .ok()
            .or_else(|| Some(PathBuf::from("/opt/ci-tools/bin").join(name)).filter(|p| p.is_file()))
            .or_else(|| which(name))
    };
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let (Some(helm4), Some(helm3)) = (
        find("XTASK_REAL_HELM", "helm"),
        find("XTASK_REAL_HELM3", "helm3"),
    ) else {
        assert!(
            !ci,
            "helm and helm3 are required in CI (`.ci/run` installs them)"
        );
        eprintln!("skipped: no real helm and helm3");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(fixtures_dir().join("make-helm-fixtures.sh"))
        .arg(tmp.path())
        .env("HELM4", &helm4)
        .env("HELM3", &helm3)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clock = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.starts_with("Last Started:") && !l.starts_with("Last Completed:"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let mut seen = 0;
    for e in fs::read_dir(tmp.path()).unwrap().flatten() {
        let name = e.file_name();
        let committed = fs::read_to_string(fixtures_dir().join(&name)).unwrap_or_default();
        assert_eq!(
            clock(&committed),
            clock(&fs::read_to_string(e.path()).unwrap()),
            "{} is not what {} / {} print: run make-helm-fixtures.sh in tests/fixtures/cluster",
            name.to_string_lossy(),
            helm4.display(),
            helm3.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 24);
}

#[test]
fn down_dry_run_prints_the_plan_and_deletes_nothing() {
    let f = cluster();
    let r = f.xtask(&["down", "--dry-run", "--purge", "--cluster"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "would run: helm uninstall todo-app --kube-context minikube --namespace todo-app\n\
         would run: kubectl --context minikube -n todo-app delete pvc --all --ignore-not-found --timeout=5m\n\
         would run: kubectl --context minikube delete namespace todo-app --ignore-not-found --timeout=5m\n\
         would run: minikube -p minikube delete\n"
    );
    assert!(f
        .calls()
        .iter()
        .all(|c| !c.contains("delete") && !c.contains("uninstall")));
}
