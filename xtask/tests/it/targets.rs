//! Cluster targets other than minikube: `--context`, image delivery by registry, `kind load`
//! or the host daemon, and `--values` / `--set`. The fake kubectl/helm/docker/kind replay the
//! scenarios; a loopback "registry" is a real HTTP server on an ephemeral port answering the
//! Docker Registry API's manifest requests the way a registry does (200, 404, 401).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::cluster_fakes::{cluster, count, first_install, report, upgrade};
use crate::harness::Fake;

const CTX_WATCH: &str = "--context ci-cluster -n todo-app get deployments,statefulsets,pods*";

/// A registry's manifest endpoint: `GET /v2/<name>/manifests/<tag>` answers with the status
/// set for that repository name (404 by default), and every request is recorded.
struct Registry {
    port: u16,
    status: Arc<Mutex<BTreeMap<String, u16>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Registry {
    fn start(default: u16) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(Mutex::new(BTreeMap::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (st, sn) = (status.clone(), seen.clone());
        thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let line = head.lines().next().unwrap_or("").to_string();
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let accepts_oci = head.contains("application/vnd.oci.image.index.v1+json");
                sn.lock().unwrap().push(format!("{line} oci={accepts_oci}"));
                let name = path
                    .strip_prefix("/v2/")
                    .and_then(|p| p.split("/manifests/").next())
                    .unwrap_or("")
                    .to_string();
                let code = *st.lock().unwrap().get(&name).unwrap_or(&default);
                let body = match code {
                    200 => r#"{"schemaVersion":2}"#,
                    401 => {
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                    }
                    _ => r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                };
                let reply = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes());
            }
        });
        Registry { port, status, seen }
    }

    fn set(&self, name: &str, code: u16) {
        self.status.lock().unwrap().insert(name.into(), code);
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn on_ci_cluster(f: &Fake) {
    f.rule(
        "kubectl",
        "--context ci-cluster get --raw /readyz*",
        0,
        "readyz.txt",
    );
    f.file(
        "ingressclasses.json",
        r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"nginx"},"spec":{"controller":"traefik.io/ingress-controller"}}]}"#,
    );
    f.rule(
        "kubectl",
        "--context ci-cluster get ingressclass -o json*",
        0,
        "ingressclasses.json",
    );
    f.rule("kubectl", CTX_WATCH, 0, "ready.json");
    f.rule("kubectl", "*get ingress -o json", 0, "-");
    f.rule("docker", "tag *", 0, "-");
    f.rule("docker", "push *", 0, "-");
}

#[test]
fn a_registry_gets_only_what_it_lacks_and_helm_names_it() {
    let reg = Registry::start(404);
    let f = cluster();
    first_install(&f);
    on_ci_cluster(&f);
    // The backend's tag is already there; the other two are not.
    reg.set("team/todo-backend", 200);
    let host = format!("{}/team", reg.host());
    let r = f.xtask(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        &host,
        "--set",
        "replicas.backend=3",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says(format!(
        "target: context `ci-cluster`, images pushed to {host}"
    ));
    let pushes: Vec<String> = f.calls_starting("docker push");
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    assert!(pushes
        .iter()
        .all(|p| p.starts_with(&format!("docker push {host}/todo-"))));
    assert!(!pushes.iter().any(|p| p.contains("todo-backend")));
    // Every manifest request asked for the OCI and Docker media types.
    let seen = reg.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("GET /v2/team/todo-") && s.ends_with("oci=true")));
    // No minikube anywhere, and the chart names the registry's images, pulled if absent.
    assert_eq!(count(&f, "minikube"), 0, "{:?}", f.calls());
    let upgrade = f
        .calls()
        .into_iter()
        .find(|c| c.starts_with("helm upgrade --install"))
        .unwrap();
    assert!(upgrade.contains("--kube-context ci-cluster"), "{upgrade}");
    assert!(
        upgrade.contains(&format!(
            "--set images.backend.repository={host}/todo-backend"
        )),
        "{upgrade}"
    );
    assert!(
        upgrade.contains("--set images.mcp.pullPolicy=IfNotPresent"),
        "{upgrade}"
    );
    assert!(!upgrade.contains("values-dev.yaml"), "{upgrade}");
    // The user's --set comes last, so it wins over everything.
    assert!(upgrade.ends_with("--set replicas.backend=3"), "{upgrade}");
    let rep = report(&f);
    let fates: Vec<(String, String)> = rep["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("deliver "))
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        fates,
        [
            ("deliver frontend".to_string(), "pushed".to_string()),
            ("deliver backend".into(), "present".into()),
            ("deliver mcp".into(), "pushed".into()),
        ]
    );
}

#[test]
fn a_registry_that_asks_for_credentials_says_docker_login() {
    let reg = Registry::start(401);
    let f = cluster();
    first_install(&f);
    on_ci_cluster(&f);
    let r = f.xtask(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        &reg.host(),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("refused us (HTTP 401): it needs credentials");
    r.says(format!("fix: `docker login {}`", reg.host()));
    assert_eq!(count(&f, "docker push") + count(&f, "helm upgrade"), 0);
}

#[test]
fn an_unreachable_registry_is_named() {
    // A port nothing listens on: bind one, then let it go.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = cluster();
    first_install(&f);
    on_ci_cluster(&f);
    let host = format!("localhost:{port}");
    let r = f.xtask(&["deploy", "--context", "ci-cluster", "--registry", &host]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says(format!("registry {host} does not answer"));
    r.says(format!("`curl http://{host}/v2/` must answer"));
    assert_eq!(count(&f, "helm upgrade"), 0);
}

#[test]
fn a_malformed_registry_stops_before_anything_runs() {
    let f = cluster();
    for bad in [
        "http://localhost:5000",
        "localhost:port",
        "Registry.Example.com/Team",
    ] {
        let r = f.xtask(&["deploy", "--context", "ci-cluster", "--registry", bad]);
        assert_eq!(r.code, 1, "{r:?}");
        r.says("expected HOST[:PORT][/PREFIX]");
    }
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn a_remote_registry_is_asked_through_docker() {
    let f = cluster();
    upgrade(&f);
    on_ci_cluster(&f);
    f.rule_err(
        "docker",
        "manifest inspect registry.example.com/team/todo-frontend:*",
        1,
        "-",
        "docker-manifest-missing.stderr",
    )
    .rule("docker", "manifest inspect *", 0, "-");
    let r = f.xtask(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        "registry.example.com/team",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(count(&f, "docker manifest inspect"), 3);
    let pushes: Vec<String> = f.calls_starting("docker push");
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert!(pushes[0].starts_with("docker push registry.example.com/team/todo-frontend:"));
}

#[test]
fn a_remote_registry_without_credentials_says_docker_login() {
    let f = cluster();
    upgrade(&f);
    on_ci_cluster(&f);
    f.rule_err(
        "docker",
        "manifest inspect *",
        1,
        "-",
        "docker-manifest-unauthorized.stderr",
    );
    let r = f.xtask(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        "registry.example.com:5443",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("fix: `docker login registry.example.com:5443`");
}

#[test]
fn a_context_with_no_way_to_get_images_fails_at_once_with_the_fix() {
    let f = cluster();
    let r = f.xtask(&["deploy", "--context", "gke_acme_prod"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("context `gke_acme_prod` is not minikube, kind or Docker Desktop");
    r.says("--registry HOST[:PORT][/PREFIX]");
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn kind_contexts_load_into_the_nodes_and_skip_what_is_there() {
    let f = cluster();
    upgrade(&f);
    f.rule(
        "kubectl",
        "--context kind-dev get --raw /readyz*",
        0,
        "readyz.txt",
    )
    .rule("kubectl", "--context kind-dev get ingressclass*", 0, "-")
    .rule(
        "kubectl",
        "--context kind-dev -n todo-app get deployments,statefulsets,pods*",
        0,
        "ready.json",
    )
    .rule("kubectl", "*get ingress -o json", 0, "-")
    .rule_err(
        "kind",
        "load docker-image todo-frontend:* --name dev",
        0,
        "-",
        "kind-load-loading.stderr",
    )
    .rule_err(
        "kind",
        "load docker-image * --name dev",
        0,
        "-",
        "kind-load-present.stderr",
    );
    let r = f.xtask(&["deploy", "--context", "kind-dev"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("images kind load into cluster `dev`");
    // No IngressClass in the cluster: a warning with the fix, not a failure.
    r.says("has no IngressClass");
    assert_eq!(count(&f, "kind load docker-image"), 3);
    let statuses: Vec<String> = report(&f)["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("deliver "))
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["loaded", "present", "present"]);
    let upgrade = f
        .calls()
        .into_iter()
        .find(|c| c.starts_with("helm upgrade"))
        .unwrap();
    assert!(
        upgrade.contains("--set images.frontend.pullPolicy=Never"),
        "{upgrade}"
    );
    assert!(!upgrade.contains("repository="), "{upgrade}");
}

#[test]
fn a_missing_kind_cluster_names_the_fix() {
    let f = cluster();
    upgrade(&f);
    f.rule(
        "kubectl",
        "--context kind-dev get --raw /readyz*",
        0,
        "readyz.txt",
    )
    .rule("kubectl", "*get ingressclass*", 0, "-")
    .rule_err(
        "kind",
        "load docker-image *",
        1,
        "-",
        "kind-no-nodes.stderr",
    );
    let r = f.xtask(&["deploy", "--context", "kind-dev"]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("kind has no cluster `dev`");
    r.says("kind create cluster --name dev");
}

#[test]
fn an_unreachable_context_stops_the_deploy() {
    let f = cluster();
    f.file(
        "refused.stderr",
        "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n",
    );
    f.rule_err(
        "kubectl",
        "--context ci-cluster get --raw /readyz*",
        1,
        "-",
        "refused.stderr",
    );
    let r = f.xtask(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        "localhost:5000",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("the Kubernetes API of context `ci-cluster` does not answer");
    r.says("kubectl --context ci-cluster cluster-info");
    assert_eq!(count(&f, "docker build") + count(&f, "helm upgrade"), 0);
}

#[test]
fn values_files_come_before_the_computed_values_and_set_after() {
    let reg = Registry::start(200);
    let f = cluster();
    upgrade(&f);
    on_ci_cluster(&f);
    f.repo_file("prod.yaml", "replicas:\n  backend: 4\n");
    let prod = f.root.join("prod.yaml").display().to_string();
    // The binary: the --set secret must stay out of the real runner's command logs.
    let r = f.xtask_process(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        &reg.host(),
        "--values",
        &prod,
        "--set",
        "images.backend.tag=pinned",
        "--set",
        "secrets.openaiApiKey=sk-canary-0123456789",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let upgrade = f
        .calls()
        .into_iter()
        .find(|c| c.starts_with("helm upgrade"))
        .unwrap();
    let at = |s: &str| {
        upgrade
            .find(s)
            .unwrap_or_else(|| panic!("{s} in {upgrade}"))
    };
    assert!(at(&format!("-f {prod}")) < at("-f -"), "{upgrade}");
    assert!(at("-f -") < at("--set images.backend.tag="), "{upgrade}");
    // The computed tag first, the user's explicit one after it: Helm takes the last.
    assert!(at("--set images.backend.tag=") < at("--set images.backend.tag=pinned"));
    // A secret given with --set never reaches a log or the terminal.
    assert!(!r.stderr.contains("sk-canary") && !r.stdout.contains("sk-canary"));
    let logs = std::fs::read_dir(f.root.join("target/xtask/logs")).unwrap();
    for l in logs.flatten() {
        let text = std::fs::read_to_string(l.path()).unwrap_or_default();
        assert!(!text.contains("sk-canary"), "{}", l.path().display());
    }
    let missing = f.xtask_process(&[
        "deploy",
        "--context",
        "ci-cluster",
        "--registry",
        &reg.host(),
        "--values",
        "nope.yaml",
    ]);
    assert_eq!(missing.code, 1);
    missing.says("--values nope.yaml: no such file");
}

#[test]
fn context_and_profile_together_are_refused() {
    let f = Fake::new();
    let r = f.xtask(&["status", "--context", "a", "--profile", "b"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("cannot be used with"), "{r:?}");
}

#[test]
fn up_and_down_cluster_stay_minikube_only() {
    let f = cluster();
    let up = f.xtask(&["up", "--context", "ci-cluster"]);
    assert_eq!(up.code, 1, "{up:?}");
    up.says("`up` starts a minikube profile");
    let down = f.xtask(&["down", "--context", "ci-cluster", "--cluster", "--yes"]);
    assert_eq!(down.code, 1, "{down:?}");
    down.says("the xtask never deletes other clusters");
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}
