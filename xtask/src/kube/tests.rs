use super::*;
use crate::guide::Entry;

#[test]
fn utc_dates() {
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(951_782_400), "2000-02-29");
    assert_eq!(utc_date(1_796_111_548), "2026-12-01");
    // The inverse of days-from-civil.
    assert_eq!(
        utc_date(days_from_civil(2024, 12, 31) * 86_400 + 5),
        "2024-12-31"
    );
}

#[test]
fn times_round_trip() {
    assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
    let t = parse_time("2026-05-01T10:00:03Z").unwrap();
    assert_eq!(stamp(t), "20260501-100003");
    assert_eq!(parse_time("2026-05-01T10:00:03.123+00:00"), Some(t));
    assert_eq!(parse_time("garbage"), None);
}

#[test]
fn quantities() {
    assert_eq!(cpu_millis("250m"), Some(250));
    assert_eq!(cpu_millis("2"), Some(2000));
    assert_eq!(cpu_millis("1.5"), Some(1500));
    assert_eq!(mem_bytes("192Mi"), Some(192 << 20));
    assert_eq!(mem_bytes("3920148Ki"), Some(3920148 << 10));
    assert_eq!(mem_bytes("512M"), Some(512_000_000));
    assert_eq!(mib(mem_bytes("4Gi").unwrap()), "4096Mi");
}

#[test]
fn quantities_as_charts_hold_them() {
    use serde_json::json;
    assert_eq!(cpu_millis_of(&json!("250m")).unwrap(), 250);
    assert_eq!(cpu_millis_of(&json!("1")).unwrap(), 1000);
    assert_eq!(cpu_millis_of(&json!(0.5)).unwrap(), 500);
    assert_eq!(mem_bytes_of(&json!("1Gi")).unwrap(), 1 << 30);
    assert_eq!(mem_bytes_of(&json!("128Mi")).unwrap(), 128 << 20);
    assert_eq!(mem_bytes_of(&json!("512M")).unwrap(), 512_000_000);
    assert!(mem_bytes_of(&json!("plenty")).is_err());
    assert!(cpu_millis_of(&json!("lots")).is_err());
    assert!(cpu_millis_of(&json!(null)).is_err());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
    assert_eq!(parse_duration("2m30s").unwrap().as_secs(), 150);
    assert_eq!(parse_duration("45").unwrap().as_secs(), 45);
    assert!(parse_duration("5d").is_err());
    assert!(parse_duration("0s").is_err());
}

fn fixture(name: &str) -> Snapshot {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cluster")
        .join(name);
    Snapshot::parse(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn kinds(name: &str) -> Vec<(Kind, String, String)> {
    fixture(name)
        .live_pods()
        .flat_map(pod_problems)
        .map(|p| (p.kind, p.pod, p.container))
        .collect()
}

#[test]
fn readiness_follows_the_rollout_not_just_the_pods() {
    let ready = fixture("ready.json");
    assert_eq!((ready.workloads.len(), ready.pods.len()), (4, 6));
    assert!(ready.all_ready());
    assert!(!fixture("progress-1.json").all_ready());
    assert!(!fixture("progress-2.json").all_ready());
    // Every pod Ready, but a Deployment whose controller has not seen the new spec yet.
    let mut stale = fixture("ready.json");
    stale.workloads[0].metadata.generation = Some(2);
    assert!(!stale.all_ready());
    let cold: Vec<i64> = ready
        .live_pods()
        .filter_map(Pod::cold_start_seconds)
        .collect();
    assert_eq!(cold, vec![2; 6]);
    let created: Vec<i64> = ready
        .live_pods()
        .filter_map(Pod::created_to_started_seconds)
        .collect();
    assert_eq!(created, vec![5; 6]);
    // Containers still waiting: no start yet.
    assert_eq!(
        fixture("progress-1.json")
            .live_pods()
            .filter_map(Pod::created_to_started_seconds)
            .count(),
        0
    );
}

#[test]
fn each_failure_kind_is_named() {
    let backend = "todo-app-backend-5b8f7d9c6-h3j9m".to_string();
    assert_eq!(
        kinds("crashloop.json"),
        [(Kind::Crash, backend.clone(), "backend".into())]
    );
    assert_eq!(
        kinds("init-failed.json"),
        [(Kind::InitFailed, backend.clone(), "migrate".into())]
    );
    assert_eq!(
        kinds("oom.json"),
        [(Kind::OomKilled, backend.clone(), "backend".into())]
    );
    assert_eq!(
        kinds("not-ready.json"),
        [(Kind::NotReady, backend.clone(), "backend".into())]
    );
    assert_eq!(
        kinds("unschedulable.json"),
        [(Kind::Unschedulable, backend, String::new())]
    );
    assert_eq!(
        kinds("image-missing.json"),
        [(
            Kind::ImageMissing,
            "todo-app-frontend-7c9d8b6f5-k2x7p".into(),
            "frontend".into()
        )]
    );
    assert!(kinds("ready.json").is_empty());
    assert!(
        kinds("progress-1.json").is_empty(),
        "creating is not failing"
    );
    let oom = fixture("oom.json")
        .live_pods()
        .flat_map(pod_problems)
        .next()
        .unwrap();
    assert_eq!(oom.limit.as_deref(), Some("512Mi"));
    assert_eq!(oom.requests, (100, 192 << 20));
}

fn events(name: &str) -> Vec<Event> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cluster")
        .join(name);
    parse_events(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn problems_in(name: &str, seen: &Seen) -> Vec<Problem> {
    fixture(name)
        .live_pods()
        .flat_map(|p| pod_problems_in(p, seen))
        .collect()
}

#[test]
fn waiting_states_with_their_own_cause_are_named_with_the_kubelets_message() {
    let backend = "todo-app-backend-5b8f7d9c6-h3j9m".to_string();
    assert_eq!(
        kinds("config-error.json"),
        [(Kind::ConfigError, backend.clone(), "migrate".into())]
    );
    assert_eq!(
        kinds("create-error.json"),
        [(Kind::CreateError, backend.clone(), "backend".into())]
    );
    assert_eq!(
        kinds("run-error.json"),
        [(Kind::RunError, backend.clone(), "backend".into())]
    );
    let p = &problems_in("config-error.json", &Seen::default())[0];
    assert_eq!(
        p.message,
        "couldn't find key DATABASE_URL in Secret todo-app/todo-external"
    );
    assert!(problems_in("run-error.json", &Seen::default())[0]
        .message
        .contains("exec: \"todo-backend\": executable file not found in $PATH"));
}

#[test]
fn a_pod_stuck_in_container_creating_is_named_by_its_failed_mount_events() {
    // Without the events ContainerCreating is just slow; with them it is a failed mount.
    assert!(kinds("mount-failed.json").is_empty());
    let ev = events("events-mount-failed.json");
    let seen = Seen {
        events: &ev,
        ..Seen::default()
    };
    let found = problems_in("mount-failed.json", &seen);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (
            found[0].kind,
            found[0].pod.as_str(),
            found[0].reason.as_str()
        ),
        (Kind::MountFailed, "todo-app-postgres-0", "FailedMount")
    );
    assert_eq!(
        found[0].message,
        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[]: context deadline exceeded (x3)"
    );
    // A pod whose containers run is never a mount problem, whatever the events say.
    assert!(problems_in("ready.json", &seen).is_empty());
}

#[test]
fn an_init_container_past_its_budget_is_an_overrun() {
    let started = parse_time("2026-05-01T10:00:02Z").unwrap();
    let at = |secs: i64| Seen {
        events: &[],
        now: Some(started + secs),
        init_budget: Some(330),
    };
    assert!(problems_in("init-running.json", &at(330)).is_empty());
    let over = problems_in("init-running.json", &at(331));
    assert_eq!(
        (over[0].kind, over[0].container.as_str()),
        (Kind::InitOverrun, "migrate")
    );
    assert_eq!(
        over[0].message,
        "running for 331 s, past its budget of 330 s (config.databaseWaitSeconds + 30 s)"
    );
    // Without a budget (no chart values) nothing is over.
    let unknown = Seen {
        init_budget: None,
        ..at(10_000)
    };
    assert!(problems_in("init-running.json", &unknown).is_empty());
    // And a pod that is not Ready gets its state, never silence.
    let snap = fixture("init-running.json");
    let pod = snap
        .live_pods()
        .find(|p| p.name() == "todo-app-backend-5b8f7d9c6-h3j9m")
        .unwrap();
    let p = pending(pod, &at(58)).unwrap();
    assert_eq!(p.kind, Kind::Starting);
    assert_eq!(
        p.message,
        "phase Pending; init container migrate running for 58 s (budget 330 s); container backend waiting: PodInitializing"
    );
    assert_eq!(p.container, "migrate");
}

#[test]
fn the_init_budget_comes_from_the_charts_values() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(init_budget(dir.path()), None);
    let chart = dir.path().join(CHART);
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/todo-app/values.yaml"),
        chart.join("values.yaml"),
    )
    .unwrap();
    assert_eq!(init_budget(dir.path()), Some(330));
    std::fs::write(
        chart.join("values-dev.yaml"),
        "config:\n  databaseWaitSeconds: 60\n",
    )
    .unwrap();
    assert_eq!(init_budget(dir.path()), Some(90));
}

#[test]
fn image_pulls_are_told_apart_by_the_kubelets_message() {
    // Our image, pulled and not found (containerd's resolver): permanent.
    let nf = problems_in("pull-not-found.json", &Seen::default());
    assert_eq!(
        (nf[0].kind, nf[0].reason.as_str()),
        (Kind::ImageMissing, "ErrImagePull")
    );
    assert!(nf[0].message.contains("failed to resolve reference \"docker.io/library/todo-backend:8c1d2e3f4a5b\": docker.io/library/todo-backend:8c1d2e3f4a5b: not found"));
    assert_eq!(nf[0].image, "todo-backend:8c1d2e3f4a5b");
    // A back-off: its own message has no cause, the events do (a 429): retried.
    let bare = problems_in("pull-backoff.json", &Seen::default());
    assert_eq!(bare[0].kind, Kind::ImagePull);
    assert_eq!(
        bare[0].message,
        "Back-off pulling image \"postgres:16-alpine\""
    );
    let ev = events("events-pull-429.json");
    let seen = Seen {
        events: &ev,
        ..Seen::default()
    };
    let rl = problems_in("pull-backoff.json", &seen);
    assert_eq!(rl[0].kind, Kind::ImagePull);
    assert!(
        rl[0]
            .message
            .ends_with("unexpected status code [manifests 16-alpine]: 429 Too Many Requests"),
        "{}",
        rl[0].message
    );
    // Never pulled (pull policy Never): missing at once.
    let never = problems_in("image-missing.json", &Seen::default());
    assert_eq!(
        (never[0].kind, never[0].reason.as_str()),
        (Kind::ImageMissing, "ErrImageNeverPull")
    );
}

#[test]
fn pull_errors_that_retrying_cannot_fix() {
    // Docker Engine (moby's distribution errors) through cri-dockerd.
    assert!(pull_not_found("rpc error: code = Unknown desc = Error response from daemon: manifest for postgres:99 not found: manifest unknown: manifest unknown"));
    assert!(pull_not_found("rpc error: code = Unknown desc = Error response from daemon: pull access denied for todo-backend, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"));
    // containerd's resolver.
    assert!(pull_not_found("failed to pull and unpack image \"docker.io/library/x:1\": failed to resolve reference \"docker.io/library/x:1\": docker.io/library/x:1: not found"));
    // Retried by the kubelet: rate limits, timeouts, an unavailable registry.
    assert!(!pull_not_found("rpc error: code = Unknown desc = Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"));
    assert!(!pull_not_found("rpc error: code = Unknown desc = Error response from daemon: Get \"https://registry-1.docker.io/v2/\": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)"));
    assert!(!pull_not_found(
        "image pull failed for postgres:16-alpine because the registry is unavailable"
    ));
}

#[test]
fn deploy_and_doctor_ids_and_exit_codes_are_unique() {
    let doctor = crate::doctor::entries();
    let all: Vec<&Entry> = deploy_entries().into_iter().chain(doctor).collect();
    for (i, a) in all.iter().enumerate() {
        assert!(
            a.id.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{} is not an anchor-safe id",
            a.id
        );
        assert!(
            a.exit_code > 2,
            "{} uses the generic exit code {}",
            a.id,
            a.exit_code
        );
        for b in &all[i + 1..] {
            assert_ne!(a.id, b.id);
            assert_ne!(a.exit_code, b.exit_code, "{} and {}", a.id, b.id);
        }
    }
    assert_eq!(Kind::Crash.entry().exit_code, 51);
    assert_eq!(
        failure_entry("helm upgrade failed:\nError: …", None).id,
        "DEPLOY_HELM_UPGRADE_FAILED"
    );
    assert_eq!(failure_entry("not every pod was Ready", None).exit_code, 57);
    assert_eq!(
        failure_entry("not every pod was Ready", Some(Kind::NotReady)).exit_code,
        54
    );
}

#[test]
fn last_deployed_skips_failed_revisions() {
    let h = parse_history(
        r#"[{"revision":1,"status":"superseded"},{"revision":2,"status":"deployed"},{"revision":3,"status":"failed"}]"#,
    )
    .unwrap();
    assert_eq!(last_deployed(&h), Some(2));
    let failed_only = parse_history(r#"[{"revision":1,"status":"failed"}]"#).unwrap();
    assert_eq!(last_deployed(&failed_only), None);
}
