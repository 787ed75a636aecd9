//! A stand-in Kubernetes API server on loopback, just enough for `helm install
//! --dry-run=server` to render the chart with a working `lookup`: discovery for the kinds the
//! chart creates, one Secret the test gives (the release's own, as an upgrade finds it), and
//! "not found" for everything else. `lint` uses it to check that the chart keeps a release's
//! secrets without a cluster. Plain HTTP on 127.0.0.1 with an ephemeral port; read-only.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// (plural, kind) of one resource.
type Resource = (&'static str, &'static str);

/// API groups (group, version, resources) the chart's objects belong to. Helm maps every
/// rendered object through discovery, so each kind the chart can render must be listed.
const GROUPS: &[(&str, &str, &[Resource])] = &[
    (
        "",
        "v1",
        &[
            ("secrets", "Secret"),
            ("configmaps", "ConfigMap"),
            ("services", "Service"),
            ("pods", "Pod"),
            ("serviceaccounts", "ServiceAccount"),
        ],
    ),
    (
        "apps",
        "v1",
        &[
            ("deployments", "Deployment"),
            ("statefulsets", "StatefulSet"),
        ],
    ),
    (
        "networking.k8s.io",
        "v1",
        &[
            ("ingresses", "Ingress"),
            ("networkpolicies", "NetworkPolicy"),
        ],
    ),
    (
        "policy",
        "v1",
        &[("poddisruptionbudgets", "PodDisruptionBudget")],
    ),
    (
        "autoscaling",
        "v2",
        &[("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    ),
];

pub struct StandInApi {
    pub port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl StandInApi {
    /// Serves `secret` (name, string data) in `namespace`, as the release's Secret, when given.
    pub fn start(
        kube_version: &str,
        namespace: &str,
        secret: Option<(&str, &BTreeMap<String, String>)>,
    ) -> Result<StandInApi> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("binding the stand-in API server")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut objects = BTreeMap::new();
        if let Some((name, data)) = secret {
            objects.insert(
                format!("/api/v1/namespaces/{namespace}/secrets/{name}"),
                secret_object(namespace, name, data),
            );
        }
        let mut parts = kube_version.split('.');
        let major = parts.next().unwrap_or("1");
        let minor = parts.next().unwrap_or("0");
        let version =
            json!({"major": major, "minor": minor, "gitVersion": format!("v{kube_version}")});
        let objects = Arc::new(objects);
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (objects, seen, version) = (objects.clone(), seen.clone(), version.clone());
                    std::thread::spawn(move || {
                        let _ = serve(conn, &objects, &version, &seen);
                    });
                }
            })
        };
        Ok(StandInApi {
            port,
            stop,
            seen,
            thread: Some(thread),
        })
    }

    /// The paths requested so far (without query strings).
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A kubeconfig whose only context, `stand-in`, points here.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: stand-in\n  user: {{}}\ncontexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: stand-in\ncurrent-context: stand-in\n",
            self.port
        );
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for StandInApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn secret_object(namespace: &str, name: &str, data: &BTreeMap<String, String>) -> Value {
    let encoded: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(base64(v.as_bytes()))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            // What Helm checks before it adopts an existing object into the release.
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {
                "meta.helm.sh/release-name": crate::render::RELEASE,
                "meta.helm.sh/release-namespace": namespace,
            },
        },
        "type": "Opaque",
        "data": encoded,
    })
}

/// One request, one response, then the connection closes (`Connection: close`).
fn serve(
    conn: TcpStream,
    objects: &BTreeMap<String, Value>,
    version: &Value,
    seen: &Mutex<Vec<String>>,
) -> Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts
        .next()
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    if let Ok(mut s) = seen.lock() {
        s.push(format!("{method} {path}"));
    }
    let (status, body) = if method != "GET" {
        (405, status_object(405, "MethodNotAllowed"))
    } else {
        respond(&path, objects, version)
    };
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()?;
    let _ = out.shutdown(Shutdown::Both);
    Ok(())
}

fn respond(path: &str, objects: &BTreeMap<String, Value>, version: &Value) -> (u16, Value) {
    if path == "/version" {
        return (200, version.clone());
    }
    if path == "/api" {
        return (200, json!({"kind": "APIVersions", "versions": ["v1"]}));
    }
    if path == "/apis" {
        let groups: Vec<Value> = GROUPS
            .iter()
            .filter(|(g, _, _)| !g.is_empty())
            .map(|(g, v, _)| {
                let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
            })
            .collect();
        return (
            200,
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
        );
    }
    for (g, v, resources) in GROUPS {
        let base = if g.is_empty() {
            format!("/api/{v}")
        } else {
            format!("/apis/{g}/{v}")
        };
        if path == base {
            let list: Vec<Value> = resources
                .iter()
                .map(|(plural, kind)| {
                    json!({"name": plural, "singularName": kind.to_lowercase(), "namespaced": true,
                        "kind": kind, "verbs": ["get", "list"]})
                })
                .collect();
            let gv = if g.is_empty() {
                v.to_string()
            } else {
                format!("{g}/{v}")
            };
            return (
                200,
                json!({"kind": "APIResourceList", "groupVersion": gv, "resources": list}),
            );
        }
    }
    if let Some(obj) = objects.get(path) {
        return (200, obj.clone());
    }
    (404, status_object(404, "NotFound"))
}

fn status_object(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code})
}

/// Standard base64 with padding, as the API server encodes Secret data.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_discovery_the_given_secret_and_404_for_the_rest() {
        let data: BTreeMap<String, String> = [("K".to_string(), "value".to_string())].into();
        let api = StandInApi::start("1.31.0", "ns", Some(("s", &data))).unwrap();
        assert!(get(api.port, "/version").contains(r#""minor":"31""#));
        assert!(get(api.port, "/apis").contains(r#""name":"autoscaling""#));
        assert!(get(api.port, "/apis/apps/v1?timeout=32s").contains("StatefulSet"));
        let secret = get(api.port, "/api/v1/namespaces/ns/secrets/s");
        assert!(secret.starts_with("HTTP/1.1 200"), "{secret}");
        assert!(secret.contains(r#""K":"dmFsdWU=""#), "{secret}");
        assert!(get(api.port, "/api/v1/namespaces/ns/secrets/other").starts_with("HTTP/1.1 404"));
        assert!(api
            .seen()
            .contains(&"GET /api/v1/namespaces/ns/secrets/s".to_string()));
    }
}
