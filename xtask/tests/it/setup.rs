//! `cargo xtask setup` against a real HTTP server on loopback that serves fake releases laid
//! out like the official locations (`XTASK_SETUP_BASE_URL` points at it). No test reaches the
//! internet: the fake "binaries" are shell scripts printing the pinned version, helm's is a
//! tar.gz made here with `tar`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::harness::{Fake, Run};

// ---------------------------------------------------------------------------------------
// A small HTTP/1.1 file server (and forward proxy) with scripted misbehaviour.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// The first request gets the headers and half the body, then the connection closes.
    DropFirst,
    /// Every request without a Range header breaks half-way; a ranged one completes.
    DropUnlessRanged,
    /// Accepts and never answers.
    Hang,
}

/// Path → (body, how to serve it).
type Table = HashMap<String, (Vec<u8>, Mode)>;

#[derive(Clone, Default)]
struct Files(Arc<Mutex<Table>>);

struct Server {
    base: String,
    files: Files,
    /// One line per request: `GET <path> range=<start|->`, or `CONNECT <authority>`.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files = Files::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (f, l) = (files.clone(), log.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (f, l) = (f.clone(), l.clone());
                thread::spawn(move || handle(stream, f, l));
            }
        });
        Server { base, files, log }
    }

    fn put(&self, path: &str, body: Vec<u8>, mode: Mode) {
        self.files
            .0
            .lock()
            .unwrap()
            .insert(path.to_string(), (body, mode));
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn gets(&self, path: &str) -> Vec<String> {
        let prefix = format!("GET {path} ");
        self.requests()
            .into_iter()
            .filter(|r| r.starts_with(&prefix))
            .collect()
    }
}

fn handle(mut stream: TcpStream, files: Files, log: Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut range: Option<usize> = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse().ok();
        }
    }
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    if method == "CONNECT" {
        log.lock().unwrap().push(format!("CONNECT {target}"));
        let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    // As a forward proxy the request line carries the absolute URL.
    let path = match target.strip_prefix("http://") {
        Some(rest) => format!("/{}", rest.split_once('/').map(|x| x.1).unwrap_or("")),
        None => target.clone(),
    };
    let via = if target.starts_with("http://") {
        " via-proxy"
    } else {
        ""
    };
    let seen = {
        let mut l = log.lock().unwrap();
        let prefix = format!("GET {path} ");
        let n = l.iter().filter(|r| r.starts_with(&prefix)).count();
        l.push(format!(
            "GET {path} range={}{via}",
            range.map(|r| r.to_string()).unwrap_or("-".into())
        ));
        n
    };
    let entry = files.0.lock().unwrap().get(&path).cloned();
    let Some((body, mode)) = entry else {
        let _ = stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        );
        return;
    };
    match mode {
        Mode::Hang => {
            thread::sleep(Duration::from_secs(60));
            return;
        }
        Mode::DropFirst | Mode::DropUnlessRanged
            if (mode == Mode::DropFirst && seen == 0)
                || (mode == Mode::DropUnlessRanged && range.is_none()) =>
        {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        _ => {}
    }
    let start = range.unwrap_or(0);
    if start >= body.len() && range.is_some() {
        let head = format!(
            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        return;
    }
    let head = if range.is_some() {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len() - 1,
            body.len(),
            body.len() - start
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[start..]);
}

// ---------------------------------------------------------------------------------------
// Fake releases

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `setup --list --json` says about one tool.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    version: String,
    url: String,
    checksum_url: String,
    file: String,
    checksum_file: String,
    install_path: String,
}

/// A fake tool: prints the pinned version whatever it is asked; padded so a download has a
/// middle to break in.
fn fake_binary(name: &str, version: &str) -> Vec<u8> {
    let out = match name {
        "kubectl" => format!(r#"{{"clientVersion":{{"gitVersion":"v{version}"}}}}"#),
        "minikube" => format!(r#"{{"commit":"fake","minikubeVersion":"v{version}"}}"#),
        _ => format!("v{version}"),
    };
    let pad = "#".repeat(200_000);
    format!("#!/bin/sh\n# fake {name} {version}\necho '{out}'\nexit 0\n{pad}\n").into_bytes()
}

fn helm_archive(scratch: &Path, member: &str, binary: &[u8]) -> Vec<u8> {
    let src = scratch.join("helm-src");
    let dir = member.split('/').next().unwrap();
    fs::create_dir_all(src.join(dir)).unwrap();
    fs::write(src.join(member), binary).unwrap();
    fs::set_permissions(src.join(member), fs::Permissions::from_mode(0o755)).unwrap();
    let out = scratch.join("helm.tar.gz");
    let st = Command::new("tar")
        .args([
            "-czf",
            &out.to_string_lossy(),
            "-C",
            &src.to_string_lossy(),
            dir,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = fs::read(&out).unwrap();
    fs::remove_dir_all(&src).unwrap();
    fs::remove_file(&out).unwrap();
    bytes
}

fn checksum_text(e: &Entry, payload: &[u8]) -> Vec<u8> {
    let h = sha256_hex(payload);
    // As published: helm's `.sha256sum` names the file, kubectl's and minikube's are bare.
    if e.checksum_file.ends_with(".sha256sum") {
        format!("{h}  {}\n", e.file).into_bytes()
    } else {
        h.into_bytes()
    }
}

/// The fixture: fakes for docker & co (for doctor), a loopback release server, and a home
/// folder inside the scratch folder so nothing outside it is touched.
struct World {
    fake: Fake,
    server: Server,
    entries: Vec<Entry>,
    env: Vec<(String, String)>,
}

impl World {
    fn new() -> World {
        let fake = Fake::new();
        let server = Server::start();
        fs::create_dir_all(fake.dir.path().join("home")).unwrap();
        let mut w = World {
            fake,
            entries: Vec::new(),
            env: Vec::new(),
            server,
        };
        w.set("XTASK_SETUP_BASE_URL", &w.server.base.clone());
        let r = w.xtask(&["setup", "--list", "--json"]);
        assert_eq!(r.code, 0, "{r:?}");
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let s = |e: &serde_json::Value, k: &str| e[k].as_str().unwrap().to_string();
        w.entries = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Entry {
                name: s(e, "name"),
                version: s(e, "version"),
                url: s(e, "url"),
                checksum_url: s(e, "checksum_url"),
                file: s(e, "file"),
                checksum_file: s(e, "checksum_file"),
                install_path: s(e, "install_path"),
            })
            .collect();
        assert_eq!(w.entries.len(), 3);
        w
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(x, _)| x != k);
        self.env.push((k.into(), v.into()));
    }

    fn entry(&self, name: &str) -> Entry {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .clone()
    }

    fn path_of(&self, url: &str) -> String {
        url.strip_prefix(&self.server.base).unwrap().to_string()
    }

    /// The release as published: (file name, bytes) for the download and its checksum file.
    fn release(&self, name: &str) -> [(String, Vec<u8>); 2] {
        let e = self.entry(name);
        let bin = fake_binary(name, &e.version);
        let payload = if e.file.ends_with(".tar.gz") {
            let os_arch = e
                .file
                .trim_start_matches(&format!("helm-v{}-", e.version))
                .trim_end_matches(".tar.gz")
                .to_string();
            helm_archive(self.fake.dir.path(), &format!("{os_arch}/helm"), &bin)
        } else {
            bin
        };
        let sums = checksum_text(&e, &payload);
        [(e.file.clone(), payload), (e.checksum_file.clone(), sums)]
    }

    /// Serve one tool's release; `mode` applies to the download itself.
    fn publish(&self, name: &str, mode: Mode) {
        let e = self.entry(name);
        let [(_, payload), (_, sums)] = self.release(name);
        self.server.put(&self.path_of(&e.url), payload, mode);
        self.server
            .put(&self.path_of(&e.checksum_url), sums, Mode::Normal);
    }

    fn publish_all(&self) {
        for n in ["kubectl", "helm", "minikube"] {
            self.publish(n, Mode::Normal);
        }
    }

    fn root(&self) -> &Path {
        &self.fake.root
    }

    fn installed(&self, name: &str) -> PathBuf {
        self.root().join(self.entry(name).install_path)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.fake.command(args);
        for k in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
            "CURL_HOME",
            "XTASK_SETUP_MAX_TIME",
            "XTASK_CURL",
            "XTASK_TAR",
        ] {
            c.env_remove(k);
        }
        c.env("HOME", self.fake.dir.path().join("home"));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn xtask(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }
}

fn partial_files(root: &Path) -> Vec<String> {
    fs::read_dir(root.join(".tools/.partial"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every path under `dir` (relative), except the subtrees named in `skip`.
fn tree(dir: &Path, skip: &[&Path]) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, skip: &[&Path], out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if skip.iter().any(|s| *s == p) {
                continue;
            }
            let meta = fs::symlink_metadata(&p).unwrap();
            out.push(format!(
                "{} {}",
                p.strip_prefix(base).unwrap().display(),
                meta.len()
            ));
            if meta.is_dir() {
                walk(base, &p, skip, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, skip, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn a_good_download_installs_verifies_and_runs() {
    let w = World::new();
    w.publish_all();
    let r = w.xtask(&["setup"]);
    assert_eq!(r.code, 0, "{r:?}");
    for name in ["kubectl", "helm", "minikube"] {
        let e = w.entry(name);
        let bin = w.installed(name);
        assert_eq!(
            bin,
            w.root().join(format!(".tools/{name}-{}/{name}", e.version))
        );
        let mode = fs::metadata(&bin).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{name} is executable: {mode:o}");
        // The install record holds the installed binary's sha256.
        let record = fs::read_to_string(bin.parent().unwrap().join(".sha256")).unwrap();
        let hash = sha256_hex(&fs::read(&bin).unwrap());
        assert_eq!(record, format!("{hash}  {name}\n"));
        assert!(r.stdout.contains(&format!("✓ {name}")), "{r:?}");
    }
    // The installed tools run.
    let out = Command::new(w.installed("kubectl"))
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("v{}", w.entry("kubectl").version))
    );
    let out = Command::new(w.installed("helm"))
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("v{}", w.entry("helm").version)
    );
    // Nothing is left half-way.
    assert!(!w.root().join(".tools/.partial").exists());

    let check = w.xtask(&["setup", "--check"]);
    assert_eq!(check.code, 0, "{check:?}");
    // A second run downloads nothing.
    let before = w.server.requests().len();
    let again = w.xtask(&["setup"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("already installed"), "{again:?}");
    assert_eq!(w.server.requests().len(), before);
}

#[test]
fn a_wrong_checksum_installs_nothing_and_says_so() {
    let w = World::new();
    let e = w.entry("kubectl");
    let good = fake_binary("kubectl", &e.version);
    let mut evil = good.clone();
    evil.extend_from_slice(b"echo owned\n");
    w.server.put(&w.path_of(&e.url), evil.clone(), Mode::Normal);
    w.server.put(
        &w.path_of(&e.checksum_url),
        sha256_hex(&good).into_bytes(),
        Mode::Normal,
    );
    let r = w.xtask(&["setup", "kubectl"]);
    assert_ne!(r.code, 0, "{r:?}");
    r.says("checksum mismatch");
    assert!(
        r.stderr.contains(&sha256_hex(&good)),
        "expected hash: {r:?}"
    );
    assert!(r.stderr.contains(&sha256_hex(&evil)), "actual hash: {r:?}");
    assert!(r.stderr.contains(&e.url), "the URL: {r:?}");
    r.says("nothing was installed");
    assert!(!w.installed("kubectl").exists());
    assert!(!w
        .root()
        .join(format!(".tools/kubectl-{}", e.version))
        .exists());
    assert!(
        !w.root().join(".tools/.partial").exists(),
        "deleted: {:?}",
        partial_files(w.root())
    );
}

#[test]
fn an_interrupted_download_is_retried_and_completes() {
    let w = World::new();
    w.publish("minikube", Mode::DropFirst);
    let r = w.xtask(&["setup", "minikube"]);
    assert_eq!(r.code, 0, "{r:?}");
    let gets = w.server.gets(&w.path_of(&w.entry("minikube").url));
    assert!(gets.len() >= 2, "a second attempt: {gets:?}");
    // curl resumes after the bytes it kept (`-C -`) or starts over; either way the file
    // that landed is the whole, verified one.
    let [(_, payload), _] = w.release("minikube");
    assert_eq!(fs::read(w.installed("minikube")).unwrap(), payload);
}

#[test]
fn a_download_that_keeps_breaking_resumes_on_the_next_run() {
    let w = World::new();
    w.publish("kubectl", Mode::DropUnlessRanged);
    let path = w.path_of(&w.entry("kubectl").url);
    let r = w.xtask(&["setup", "kubectl"]);
    assert_ne!(r.code, 0, "{r:?}");
    r.says("run setup again to resume");
    assert_eq!(w.server.gets(&path).len(), 6, "one try and five retries");
    assert!(!w.installed("kubectl").exists());
    let kept = partial_files(w.root());
    assert!(
        kept.iter().any(|k| k.ends_with("-kubectl")),
        "the partial download stays: {kept:?}"
    );

    let r = w.xtask(&["setup", "kubectl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let last = w.server.gets(&path).pop().unwrap();
    let half = fake_binary("kubectl", &w.entry("kubectl").version).len() / 2;
    assert!(
        last.contains(&format!("range={half}")),
        "resumed after the bytes it had: {last}"
    );
    assert!(w.installed("kubectl").is_file());
    assert!(!w.root().join(".tools/.partial").exists());
}

#[test]
fn a_stalled_download_times_out_with_a_clear_error() {
    let mut w = World::new();
    w.publish("kubectl", Mode::Hang);
    w.set("XTASK_SETUP_MAX_TIME", "1");
    let r = w.xtask(&["setup", "kubectl"]);
    assert_ne!(r.code, 0, "{r:?}");
    r.says("timed out");
    r.says("XTASK_SETUP_MAX_TIME");
    r.says("--offline");
    assert!(!w.installed("kubectl").exists());
}

#[test]
fn offline_installs_from_a_folder_of_official_files() {
    let mut w = World::new();
    let dir = w.fake.dir.path().join("downloads");
    fs::create_dir_all(&dir).unwrap();
    for name in ["kubectl", "helm", "minikube"] {
        for (file, bytes) in w.release(name) {
            fs::write(dir.join(file), bytes).unwrap();
        }
    }
    // No network at all: the base URL points at a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    w.set("XTASK_SETUP_BASE_URL", &nowhere);
    let r = w.xtask(&["setup", "--offline", &dir.to_string_lossy()]);
    assert_eq!(r.code, 0, "{r:?}");
    for name in ["kubectl", "helm", "minikube"] {
        assert!(w.installed(name).is_file(), "{name}: {r:?}");
    }
    assert!(w.server.requests().is_empty());
    assert_eq!(w.xtask(&["setup", "--check"]).code, 0);

    // A missing file is named, with where to get it.
    let empty = w.fake.dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let r = w.xtask(&[
        "setup",
        "--force",
        "helm",
        "--offline",
        &empty.to_string_lossy(),
    ]);
    assert_ne!(r.code, 0, "{r:?}");
    let e = w.entry("helm");
    assert!(
        r.stderr.contains(&e.file) && r.stderr.contains("download it from"),
        "{r:?}"
    );
    // The earlier install is untouched.
    assert_eq!(w.xtask(&["setup", "--check", "helm"]).code, 0);
}

#[test]
fn check_names_setup_for_missing_or_changed_tools() {
    let w = World::new();
    w.publish_all();
    let r = w.xtask(&["setup", "--check"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("✗ kubectl") && r.stdout.contains("not installed"),
        "{r:?}"
    );
    r.says("cargo xtask setup");
    assert!(w.server.requests().is_empty(), "--check downloads nothing");

    assert_eq!(w.xtask(&["setup"]).code, 0);
    let helm = w.installed("helm");
    let mut f = fs::OpenOptions::new().append(true).open(&helm).unwrap();
    writeln!(f, "# tampered").unwrap();
    drop(f);
    let r = w.xtask(&["setup", "--check"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("✗ helm") && r.stdout.contains("changed since it was installed"),
        "{r:?}"
    );
    assert!(r.stdout.contains("✓ kubectl"), "{r:?}");

    let r = w.xtask(&["setup", "--force", "helm"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(w.xtask(&["setup", "--check"]).code, 0);
}

#[test]
fn resolution_order_is_override_then_project_then_path() {
    let mut w = World::new();
    w.fake.healthy();
    w.publish("kubectl", Mode::Normal);
    assert_eq!(w.xtask(&["setup", "kubectl"]).code, 0);
    let doctor_kubectl = |w: &World| {
        let r = w.xtask(&["doctor", "--required-only"]);
        r.stdout
            .lines()
            .find(|l| l.contains(" kubectl "))
            .unwrap_or_default()
            .to_string()
    };
    // 1. The harness's XTASK_KUBECTL wins over .tools/.
    assert!(doctor_kubectl(&w).contains("(from $XTASK_KUBECTL)"));
    // 2. Without it, the project's copy, whatever PATH holds.
    let path_bin = w.fake.dir.path().join("pathbin");
    fs::create_dir_all(&path_bin).unwrap();
    fs::write(
        path_bin.join("kubectl"),
        "#!/bin/sh\necho '{\"clientVersion\":{\"gitVersion\":\"v1.30.0\"}}'\n",
    )
    .unwrap();
    fs::set_permissions(path_bin.join("kubectl"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        path_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    w.fake.set_env("XTASK_KUBECTL", "");
    w.set("PATH", &path);
    let line = doctor_kubectl(&w);
    assert!(line.contains("(project .tools/)"), "{line}");
    assert!(line.contains(&w.entry("kubectl").version), "{line}");
    // 3. Without .tools/, PATH.
    fs::remove_dir_all(w.root().join(".tools")).unwrap();
    let line = doctor_kubectl(&w);
    assert!(
        line.contains("(PATH)") && line.contains(&path_bin.display().to_string()),
        "{line}"
    );
}

#[test]
fn nothing_is_written_outside_the_project() {
    let w = World::new();
    w.publish_all();
    let scratch = w.fake.dir.path();
    let repo = w.root().to_path_buf();
    let calls = scratch.join("calls.log");
    let before = tree(scratch, &[&repo, &calls]);
    assert_eq!(w.xtask(&["setup"]).code, 0);
    assert_eq!(w.xtask(&["setup", "--check"]).code, 0);
    // A failing run too.
    let e = w.entry("kubectl");
    w.server.put(
        &w.path_of(&e.checksum_url),
        "0".repeat(64).into_bytes(),
        Mode::Normal,
    );
    assert_ne!(w.xtask(&["setup", "--force", "kubectl"]).code, 0);
    assert_eq!(tree(scratch, &[&repo, &calls]), before);
    // Inside the project: only .tools/ and the logs.
    let top: Vec<String> = fs::read_dir(&repo)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for t in &top {
        assert!(t == ".tools" || t == "target", "unexpected {t} in {top:?}");
    }
    let target: Vec<String> = fs::read_dir(repo.join("target"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(target, vec!["xtask"]);
}

#[test]
fn https_proxy_from_the_environment_reaches_curl() {
    let mut w = World::new();
    // An https base URL that only the proxy (our server) can reach: curl must CONNECT to it.
    w.set("XTASK_SETUP_BASE_URL", "https://mirror.invalid");
    w.set("HTTPS_PROXY", &w.server.base.clone());
    let r = w.xtask(&["setup", "kubectl"]);
    assert_ne!(r.code, 0, "our proxy refuses the tunnel: {r:?}");
    let connects: Vec<String> = w
        .server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("CONNECT"))
        .collect();
    assert!(
        connects
            .first()
            .is_some_and(|c| c == "CONNECT mirror.invalid:443"),
        "{connects:?}"
    );
    assert!(!w.installed("kubectl").exists());
}

#[test]
fn dry_run_prints_the_downloads_and_writes_nothing() {
    let w = World::new();
    w.publish_all();
    let r = w.xtask(&["setup", "--dry-run", "helm"]);
    assert_eq!(r.code, 0, "{r:?}");
    let e = w.entry("helm");
    assert!(
        r.stdout.contains("would run: curl") && r.stdout.contains(&e.url),
        "{r:?}"
    );
    assert!(r.stdout.contains(&e.checksum_url), "{r:?}");
    assert!(!w.root().join(".tools").exists());
    assert!(w.server.requests().is_empty());
}

/// A version the release server does not have (curl `--fail` → exit 22, "error: 404"): the
/// message names the tool, the pinned version and the two ways out.
#[test]
fn a_version_that_is_not_published_names_itself_and_the_fix() {
    let w = World::new();
    // kubectl and minikube are published; helm's files answer 404.
    w.publish("kubectl", Mode::Normal);
    w.publish("minikube", Mode::Normal);
    let e = w.entry("helm");
    let r = w.xtask(&["setup", "helm"]);
    assert_ne!(r.code, 0, "{r:?}");
    r.says(format!(
        "helm {} is not published there (HTTP 404)",
        e.version
    ));
    r.says("cargo xtask setup --list");
    r.says("XTASK_HELM");
    r.says("check the mirror in XTASK_SETUP_BASE_URL");
    assert!(!w.installed("helm").exists());
}
