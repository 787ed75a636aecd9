//! `smoke` against the fake kubectl/helm and a real HTTP server on 127.0.0.1 standing in
//! for both ends: the fake `kubectl port-forward` prints `Forwarding from 127.0.0.1:<port>`
//! with that server's port (the xtask reads the port kubectl chose from that line, as it does
//! with the real one, which is asked for `:8000`, i.e. any free local port), and
//! `--ingress-addr` points the ingress checks at it.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::cluster_fakes::cluster;
use crate::harness::{Fake, Run};

/// A tiny stand-in for the backend (port-forwarded) and the frontend behind the ingress.
pub(crate) struct Server {
    pub(crate) port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `broken`: "METHOD path" entries answered with HTTP 500 (or 503 for /ready).
    pub(crate) fn start(broken: &[&str]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let broken: BTreeSet<String> = broken.iter().map(|s| s.to_string()).collect();
        let log = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                let broken = broken.clone();
                thread::spawn(move || serve(stream, &log, &broken));
            }
        });
        Server { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(mut s: TcpStream, log: &Mutex<Vec<String>>, broken: &BTreeSet<String>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, body) = loop {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..i]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while raw.len() < i + 4 + len {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            break (head, String::from_utf8_lossy(&raw[i + 4..]).into_owned());
        }
    };
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let host = head
        .lines()
        .find_map(|l| l.strip_prefix("Host: "))
        .unwrap_or("")
        .to_string();
    let cookie = head
        .lines()
        .any(|l| l.starts_with("Cookie: better-auth.session_token=s3ss10n"));
    log.lock()
        .unwrap()
        .push(format!("{method} {path} host={host}"));
    let key = format!("{method} {path}");
    let uid = "u-smoke-1";
    let (status, ctype, text, extra): (u16, &str, String, &str) = if key == "GET /"
        && broken.contains("REDIRECT /")
    {
        // What the app did before its front door was a page: a bare redirect.
        (
            307,
            "text/plain",
            "/sign-in".into(),
            "Location: /sign-in\r\n",
        )
    } else if broken.contains(&key) {
        let code = if path == "/ready" { 503 } else { 500 };
        (
            code,
            "application/json",
            r#"{"detail":"broken on purpose"}"#.into(),
            "",
        )
    } else {
        match (method, path) {
            ("GET", "/health") | ("GET", "/ready") => (200, "application/json", r#"{"status":"ok"}"#.into(), ""),
            ("GET", "/") if host == "todo.local" => (200, "text/html; charset=utf-8", r#"<!DOCTYPE html><html><body><h1>Todo Chatbot</h1><a class="button" href="/sign-in">Sign in</a></body></html>"#.into(), ""),
            ("GET", "/api/health") if host == "todo.local" => (200, "application/json", r#"{"status":"ok"}"#.into(), ""),
            ("POST", "/api/auth/sign-up/email") => (
                200,
                "application/json",
                format!(r#"{{"token":"s3ss10n","user":{{"id":"{uid}","email":"x@example.com","name":"Smoke Test"}}}}"#),
                "Set-Cookie: better-auth.session_token=s3ss10n; Path=/; HttpOnly; SameSite=Lax\r\n",
            ),
            ("GET", "/api/auth/token") if cookie => (200, "application/json", r#"{"token":"aaa.bbb.ccc"}"#.into(), ""),
            ("POST", p) if cookie && p == format!("/api/backend/{uid}/tasks") => (
                201,
                "application/json",
                format!(r#"{{"id":1,"user_id":"{uid}","title":"smoke: write the report","description":null,"completed":false}}"#),
                "",
            ),
            ("POST", p) if cookie && p == format!("/api/backend/{uid}/chat") => (
                200,
                "application/json",
                r#"{"conversation_id":1,"response":"Added \"buy milk\".","tool_calls":[{"name":"add_task","arguments":{"title":"buy milk"},"result":{"task_id":2,"status":"created","title":"buy milk"}}]}"#.into(),
                "",
            ),
            ("GET", p) if cookie && p == format!("/api/backend/{uid}/tasks") => (
                200,
                "application/json",
                r#"[{"id":2,"title":"buy milk"},{"id":1,"title":"smoke: write the report"}]"#.into(),
                "",
            ),
            ("DELETE", p) if cookie && p == format!("/api/backend/{uid}") => (204, "application/json", String::new(), ""),
            ("POST", "/api/auth/delete-user") if cookie => (200, "application/json", r#"{"success":true}"#.into(), ""),
            _ => (404, "application/json", format!(r#"{{"detail":"no route {key} (host {host}, body {body})"}}"#), ""),
        }
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = s.write_all(reply.as_bytes());
}

fn smoke_env(server: &Server) -> Fake {
    let f = cluster();
    f.file(
        "port-forward.txt",
        &format!(
            "Forwarding from 127.0.0.1:{} -> 8000\nForwarding from [::1]:{} -> 8000\n",
            server.port, server.port
        ),
    );
    f
}

fn smoke(f: &Fake, server: &Server, extra: &[&str]) -> Run {
    let addr = format!("127.0.0.1:{}", server.port);
    let mut args = vec!["smoke", "--ingress-addr", &addr];
    args.extend_from_slice(extra);
    // The binary: the port-forward stays up as a process and must not outlive the run.
    f.xtask_process(&args)
}

/// Every healthy rule; `skip` leaves one out so the test can add its own.
fn healthy_rules(f: &Fake, skip: &str) {
    if skip != "pods" {
        f.rule(
            "kubectl",
            "*get pods -l app=todo-chatbot -o json",
            0,
            "ready.json",
        );
    }
    if skip != "port-forward" {
        f.rule("kubectl", "*port-forward*", 0, "port-forward.txt@sleep:30");
    }
    if skip != "helm test" {
        f.rule("helm", "test todo-app*", 0, "helm4-test.txt");
    }
}

/// Every port-forward the fake started is gone once the xtask has exited; returns how many
/// there were.
fn no_forward_left(f: &Fake) -> usize {
    let dir = f.scenario().join(".pids");
    let pids: Vec<i32> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let started = pids.len();
    for pid in pids {
        // Gone, or a zombie waiting for its reaper: either way not running.
        let mut running = false;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            running = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z') && !r.trim().is_empty());
            if !running {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!running, "port-forward {pid} outlived the xtask");
    }
    started
}

#[test]
fn everything_passes_and_the_throwaway_user_is_deleted() {
    let server = Server::start(&[]);
    let f = smoke_env(&server);
    healthy_rules(&f, "");
    let r = smoke(&f, &server, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "✓ pods: 6 Running and Ready, 0 restarts",
        "✓ backend via port-forward: /health 200, /ready 200",
        "✓ ingress /: a page linking to /sign-in",
        "✓ ingress /api/health: 200",
        "✓ end to end: signed up, added a task, chat added \"buy milk\", 2 tasks listed, user and data deleted",
        "✓ helm test: test hooks Succeeded",
        "smoke: 6 passed, 0 failed",
    ] {
        assert!(r.stderr.contains(line), "{line}\n{r:?}");
    }
    let seen = server.seen();
    assert!(
        seen.contains(&"GET / host=todo.local".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"DELETE /api/backend/u-smoke-1 host=todo.local".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"POST /api/auth/delete-user host=todo.local".to_string()),
        "{seen:?}"
    );
    assert!(f.calls().iter().any(|c| c == "kubectl --context minikube -n todo-app port-forward --address 127.0.0.1 svc/backend-service :8000"), "{:?}", f.calls());
    // No --logs: Helm 3 would fail every passing run reading a deleted pod's logs.
    assert!(
        f.calls().iter().any(|c| c
            == "helm test todo-app --kube-context minikube --namespace todo-app --timeout=120s"),
        "{:?}",
        f.calls()
    );
    assert!(f.root.join("target/xtask/smoke/report.json").is_file());
    assert_eq!(
        no_forward_left(&f),
        1,
        "one port-forward was started, and stopped"
    );
}

#[test]
fn keep_keeps_the_user() {
    let server = Server::start(&[]);
    let f = smoke_env(&server);
    healthy_rules(&f, "");
    let r = smoke(&f, &server, &["--keep"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says("user u-smoke-1 kept (--keep)");
    assert!(!server.seen().iter().any(|s| s.starts_with("DELETE")));
}

fn fails(broken: &[&str], skip: &str, extra_rules: impl Fn(&Fake), check: &str, why: &str) {
    let server = Server::start(broken);
    let f = smoke_env(&server);
    healthy_rules(&f, skip);
    extra_rules(&f);
    let r = smoke(&f, &server, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("✗ {check}:")))
        .unwrap_or_else(|| panic!("no ✗ {check}: {r:?}"));
    assert!(line.contains(why), "{line}\n{r:?}");
    assert!(
        r.stderr.contains("smoke: 5 passed, 1 failed") || check.starts_with("ingress"),
        "{r:?}"
    );
    // Each check starts at most one port-forward, and none outlives the run.
    assert!(no_forward_left(&f) <= 1);
}

#[test]
fn a_restarted_pod_fails_the_pods_check() {
    fails(
        &[],
        "pods",
        |f| {
            f.rule(
                "kubectl",
                "*get pods -l app=todo-chatbot -o json",
                0,
                "restarted.json",
            );
        },
        "pods",
        "container backend restarted 1 time(s) (last: OOMKilled, exit code 137)",
    );
}

#[test]
fn an_unready_backend_fails_through_the_port_forward() {
    fails(
        &["GET /ready"],
        "",
        |_| {},
        "backend via port-forward",
        "GET /ready through the port-forward → HTTP 503",
    );
}

#[test]
fn a_port_forward_that_dies_says_why() {
    fails(
        &[],
        "port-forward",
        |f| {
            f.file("pf-error.txt", "error: unable to forward port because pod is not running. Current status=Pending\n");
            f.rule_err("kubectl", "*port-forward*", 1, "-", "pf-error.txt");
        },
        "backend via port-forward",
        "unable to forward port because pod is not running",
    );
}

#[test]
fn a_broken_ingress_fails_and_skips_the_journey() {
    let server = Server::start(&["GET /"]);
    let f = smoke_env(&server);
    healthy_rules(&f, "");
    let r = smoke(&f, &server, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("✗ ingress /: GET http://127.0.0.1:");
    r.says("! end to end: skipped: the ingress checks above failed");
    r.says("smoke: 4 passed, 1 failed, 1 skipped");
    r.says("failed: ingress /, end to end");
    assert_eq!(no_forward_left(&f), 1);
}

#[test]
fn a_failing_health_route_fails_the_ingress_check() {
    fails(
        &["GET /api/health"],
        "",
        |_| {},
        "ingress /api/health",
        "HTTP 500",
    );
}

#[test]
fn a_failing_chat_fails_the_journey_and_still_cleans_up() {
    let server = Server::start(&["POST /api/backend/u-smoke-1/chat"]);
    let f = smoke_env(&server);
    healthy_rules(&f, "");
    let r = smoke(&f, &server, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("✗ end to end: POST /api/backend/u-smoke-1/chat: expected HTTP 200, got 500");
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.starts_with("DELETE /api/backend/u-smoke-1")),
        "the account is deleted after a failed journey"
    );
}

#[test]
fn a_failing_helm_test_shows_its_output() {
    fails(
        &[],
        "helm test",
        |f| {
            f.rule_err(
                "helm",
                "test todo-app*",
                1,
                "helm4-test-failed.txt",
                "helm4-test-failed.stderr",
            );
        },
        "helm test",
        "",
    );
    // The reason is each Helm's own output, and the failed pod's log, which smoke reads
    // with kubectl (without --logs; the pod stays when it fails).
    for helm in ["helm4", "helm3"] {
        let server = Server::start(&[]);
        let f = smoke_env(&server);
        healthy_rules(&f, "helm test");
        f.rule_err(
            "helm",
            "test todo-app*",
            1,
            &format!("{helm}-test-failed.txt"),
            &format!("{helm}-test-failed.stderr"),
        );
        f.rule_first(
            "kubectl",
            "--context minikube -n todo-app logs todo-app-test-health -c health --tail=30",
            0,
            "test-pod-failed.log",
        );
        let r = smoke(&f, &server, &[]);
        r.says("pod todo-app-test-health failed");
        r.says("the test pod's log:\nhttp://frontend-service:3000/api/health 200");
        r.says("http://backend-service:8000/ready FAILED: HTTP Error 503");
    }
}

#[test]
fn a_bare_redirect_at_the_front_door_fails() {
    let server = Server::start(&["REDIRECT /"]);
    let f = smoke_env(&server);
    healthy_rules(&f, "");
    let r = smoke(&f, &server, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    r.says("✗ ingress /: GET http://127.0.0.1:");
    r.says("→ HTTP 307 to /sign-in");
}

#[test]
fn the_ingress_address_comes_from_the_ingress_status() {
    let server = Server::start(&[]);
    let f = smoke_env(&server);
    healthy_rules(&f, "");
    // The real status holds an IP (port 80); here the stand-in server's port rides along.
    f.file(
        "ingress.json",
        &format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{{"metadata":{{"name":"todo-app"}},"status":{{"loadBalancer":{{"ingress":[{{"ip":"127.0.0.1:{}"}}]}}}}}}]}}"#,
            server.port
        ),
    );
    f.rule(
        "kubectl",
        "--context ci-cluster -n todo-app get ingress -o json",
        0,
        "ingress.json",
    );
    // The binary: its port-forward stays up as a process, as in `smoke` above.
    let r = f.xtask_process(&["smoke", "--context", "ci-cluster"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.says(format!(
        "a page linking to /sign-in from http://127.0.0.1:{}/",
        server.port
    ));
    assert!(
        f.calls_starting("minikube").is_empty(),
        "no minikube call for --context: {:?}",
        f.calls()
    );
    assert!(f
        .calls()
        .iter()
        .any(|c| c
            == "helm test todo-app --kube-context ci-cluster --namespace todo-app --timeout=120s"));
}
