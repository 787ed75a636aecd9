//! No secret reaches the disk or the terminal: every task that runs against the fakes runs
//! with canary secrets supplied through the environment, through `.data/secrets.env`, and
//! printed by the cluster itself (a real `helm status -o json` or `helm get values` prints the
//! release's values and manifest; pod logs and describes may quote a secret), and then the
//! whole fixture repository (logs, reports, diagnose bundles, rendered files), every command
//! line the fakes saw and each run's stdout and stderr are searched for every canary, plain
//! and base64-encoded.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use crate::cluster_fakes::{bundles, cluster, first_install, upgrade, WATCH};
use crate::harness::{Fake, Run};
use crate::smoke::Server;

/// Distinct random-looking values, new for every run of the test.
struct Canaries {
    /// BETTER_AUTH_SECRET from the environment.
    env_auth: String,
    /// OPENAI_API_KEY from the environment.
    env_openai: String,
    /// The password inside DATABASE_URL from the environment.
    env_db_password: String,
    /// MCP_SERVICE_TOKEN and POSTGRES_PASSWORD from `.data/secrets.env`.
    file_mcp: String,
    file_postgres: String,
    /// BETTER_AUTH_SECRET in the file, overridden by the environment (the cluster may still
    /// run with it).
    file_shadowed_auth: String,
    /// A value only the cluster holds (set by an earlier deploy from elsewhere): nothing can
    /// redact it, so only never writing the output that holds it keeps it off the disk.
    cluster_only: String,
}

fn random_hex(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(s.len());
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(len);
    s
}

impl Canaries {
    fn new() -> Self {
        Canaries {
            env_auth: format!("Ea{}", random_hex(40)),
            env_openai: format!("sk-Eo{}", random_hex(30)),
            env_db_password: format!("Ed{}", random_hex(22)),
            file_mcp: format!("Fm{}", random_hex(30)),
            file_postgres: format!("Fp{}", random_hex(24)),
            file_shadowed_auth: format!("Fs{}", random_hex(40)),
            cluster_only: format!("Co{}", random_hex(28)),
        }
    }

    fn all(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("BETTER_AUTH_SECRET (environment)", &self.env_auth),
            ("OPENAI_API_KEY (environment)", &self.env_openai),
            (
                "DATABASE_URL's password (environment)",
                &self.env_db_password,
            ),
            ("MCP_SERVICE_TOKEN (.data/secrets.env)", &self.file_mcp),
            ("POSTGRES_PASSWORD (.data/secrets.env)", &self.file_postgres),
            (
                "BETTER_AUTH_SECRET (.data/secrets.env, overridden)",
                &self.file_shadowed_auth,
            ),
            ("a value only the cluster holds", &self.cluster_only),
        ]
    }

    fn database_url(&self) -> String {
        format!(
            "postgresql://todo:{}@db.internal:5432/todo",
            self.env_db_password
        )
    }

    /// The release as Helm stores it: the values (`config`) and the rendered manifest, the
    /// Secret's `stringData` included. Both Helm 3.17 and Helm 4.1 print this whole object for
    /// `helm status -o json` (and `helm get all`), whatever `--show-resources` says.
    fn release_json(&self) -> String {
        let manifest = format!(
            "---\n# Source: todo-app/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: todo-app-secrets\n  namespace: todo-app\ntype: Opaque\nstringData:\n  DATABASE_URL: \"{}\"\n  BETTER_AUTH_SECRET: \"{}\"\n  MCP_SERVICE_TOKEN: \"{}\"\n  OPENAI_API_KEY: \"{}\"\n  LEGACY_API_KEY: \"{}\"\n",
            self.database_url(),
            self.env_auth,
            self.file_mcp,
            self.env_openai,
            self.cluster_only
        );
        serde_json::json!({
            "name": "todo-app",
            "info": {
                "first_deployed": "2026-05-01T10:00:00.123456789Z",
                "last_deployed": "2026-05-01T10:05:00.123456789Z",
                "deleted": "",
                "description": "Upgrade complete",
                "status": "deployed",
                "notes": "Todo Chatbot 0.1.0 is installed as release todo-app in namespace todo-app (dev)."
            },
            "config": {"secrets": {
                "betterAuthSecret": self.env_auth,
                "mcpServiceToken": self.file_mcp,
                "postgresPassword": self.file_postgres,
                "databaseUrl": self.database_url(),
                "openaiApiKey": self.env_openai,
                "legacyApiKey": self.cluster_only
            }},
            "manifest": manifest,
            "version": 2,
            "namespace": "todo-app"
        })
        .to_string()
    }

    /// Lines an app could print at startup or when it fails.
    fn log_lines(&self) -> String {
        format!(
            "sqlalchemy.exc.OperationalError: could not connect to postgresql://todo:{pg}@postgres-service:5432/todo\n\
             connecting with DATABASE_URL=postgresql://todo:{dbpw}@10.0.0.7:5432/todo\n\
             settings: mcp_service_token={mcp} better_auth_secret={auth}\n\
             openai: api_key={openai}\n\
             auth: the previous secret {shadow} no longer verifies\n",
            pg = self.file_postgres,
            dbpw = self.env_db_password,
            mcp = self.file_mcp,
            auth = self.env_auth,
            openai = self.env_openai,
            shadow = self.file_shadowed_auth,
        )
    }
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A fake cluster whose every source of secrets holds a canary.
fn canary_cluster(c: &Canaries) -> Fake {
    let mut f = cluster();
    f.set_env("BETTER_AUTH_SECRET", &c.env_auth)
        .set_env("OPENAI_API_KEY", &c.env_openai)
        .set_env("DATABASE_URL", &c.database_url());
    f.repo_file(
        ".data/secrets.env",
        &format!(
            "BETTER_AUTH_SECRET={}\nMCP_SERVICE_TOKEN={}\nPOSTGRES_PASSWORD={}\n",
            c.file_shadowed_auth, c.file_mcp, c.file_postgres
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        f.root.join(".data/secrets.env"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    // What the cluster prints. Pod logs and describes go through the fixtures the cluster's
    // own rules name, so the canaries are appended to those files.
    for name in [
        "logs-backend-previous.txt",
        "logs-migrate-previous.txt",
        "describe.txt",
    ] {
        let path = f.scenario().join(name);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str(&c.log_lines());
        fs::write(&path, text).unwrap();
    }
    let release = c.release_json();
    let values = serde_json::json!({"secrets": {
        "betterAuthSecret": c.env_auth,
        "mcpServiceToken": c.file_mcp,
        "postgresPassword": c.file_postgres,
        "legacyApiKey": c.cluster_only
    }})
    .to_string();
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "todo-app-secrets", "namespace": "todo-app"},
        "data": {
            "BETTER_AUTH_SECRET": base64(c.env_auth.as_bytes()),
            "MCP_SERVICE_TOKEN": base64(c.file_mcp.as_bytes()),
            "POSTGRES_PASSWORD": base64(c.file_postgres.as_bytes()),
            "LEGACY_API_KEY": base64(c.cluster_only.as_bytes())
        }
    })
    .to_string();
    f.file("canary-release.json", &release)
        .file("canary-values.json", &values)
        .file("canary-secret.json", &secret)
        .file(
            "canary-upgrade.txt",
            &format!(
                "{}NOTES:\nThe Todo Chatbot is at http://todo.local\nDatabase password: {}\nLegacy key: {}\n",
                fs::read_to_string(crate::cluster_fakes::fixtures_dir().join("helm4-upgrade.txt"))
                    .unwrap()
                    .split("NOTES:")
                    .next()
                    .unwrap(),
                c.file_postgres,
                c.cluster_only
            ),
        )
        .file(
            "canary-test.txt",
            &format!(
                "{}{}",
                fs::read_to_string(crate::cluster_fakes::fixtures_dir().join("helm4-test.txt"))
                    .unwrap(),
                c.log_lines()
            ),
        )
        .file(
            "render-stream.yaml",
            "---\n# Source: todo-app/templates/backend-service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: backend-service\n  namespace: todo-app\n  labels:\n    component: backend\nspec:\n  ports: [{port: 8000}]\n---\n# Source: todo-app/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: todo-app-secrets\n  namespace: todo-app\nstringData:\n  BETTER_AUTH_SECRET: \"CHANGE-ME-better-auth-secret-of-32-chars-or-more\"\n",
        );
    f.rule("helm", "status todo-app*", 0, "canary-release.json")
        .rule("helm", "get all todo-app*", 0, "canary-release.json")
        .rule("helm", "get manifest todo-app*", 0, "canary-release.json")
        .rule("helm", "get values todo-app*", 0, "canary-values.json")
        .rule("helm", "get metadata todo-app*", 0, "helm-metadata.json")
        .rule("helm", "test todo-app*", 0, "canary-test.txt")
        .rule("helm", "template *", 0, "render-stream.yaml")
        .rule("kubectl", "*get secret*", 0, "canary-secret.json")
        .rule("kubectl", "*delete *", 0, "-")
        .rule("minikube", "-p minikube delete", 0, "-");
    // `render` also writes the README's generated table, between its markers.
    f.repo_file(
        "README.md",
        "# Fixture\n<!-- deploy-failures: generated by `cargo xtask render` from xtask/src/kube/diagnose.rs; do not edit -->\n<!-- /deploy-failures -->\n",
    );
    f
}

/// Every canary (plain or base64) found in `text`, as "what (form)".
fn leaks(c: &Canaries, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (what, value) in c.all() {
        if text.contains(value) {
            found.push(what.to_string());
        }
        if text.contains(&base64(value.as_bytes())) {
            found.push(format!("{what} (base64)"));
        }
    }
    found
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every place a canary must not be: one line per place, naming it and what was there.
fn search(c: &Canaries, f: &Fake, runs: &[(String, Run)], problems: &mut Vec<String>) {
    let mut report = |place: String, text: &str| {
        let found = leaks(c, text);
        if !found.is_empty() {
            problems.push(format!("{place}: {}", found.join(", ")));
        }
    };
    let secrets_file = f.root.join(".data/secrets.env");
    let mut files = Vec::new();
    files_under(&f.root, &mut files);
    files.sort();
    for p in files.iter().filter(|p| **p != secrets_file) {
        let text = String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned();
        report(
            p.strip_prefix(&f.root).unwrap().display().to_string(),
            &text,
        );
    }
    // A command line is readable by every user of the machine (`ps`).
    report("a command line the fakes saw".into(), &f.calls().join("\n"));
    for (task, r) in runs {
        report(format!("stdout of `xtask {task}`"), &r.stdout);
        report(format!("stderr of `xtask {task}`"), &r.stderr);
    }
}

fn run(f: &Fake, runs: &mut Vec<(String, Run)>, args: &[&str]) -> i32 {
    // The binary: the sweep covers real stdin, the command logs and the port-forward.
    let r = f.xtask_process(args);
    let code = r.code;
    runs.push((args.join(" "), r));
    code
}

#[test]
fn no_task_writes_or_prints_a_secret() {
    let c = Canaries::new();
    let mut problems = Vec::new();

    // A healthy release: every task, the verbose echo included.
    let server = Server::start(&[]);
    let f = canary_cluster(&c);
    f.file(
        "port-forward.txt",
        &format!(
            "Forwarding from 127.0.0.1:{} -> 8000\nForwarding from [::1]:{} -> 8000\n",
            server.port, server.port
        ),
    );
    f.rule("helm", "upgrade --install*", 0, "canary-upgrade.txt")
        .rule("kubectl", WATCH, 0, "ready.json")
        .rule(
            "kubectl",
            "*get pods -l app=todo-chatbot -o json",
            0,
            "ready.json",
        )
        .rule("kubectl", "*port-forward*", 0, "port-forward.txt@sleep:30");
    upgrade(&f);
    let ingress = format!("127.0.0.1:{}", server.port);
    let mut runs = Vec::new();
    for (args, expected) in [
        (vec!["doctor"], 0),
        (vec!["doctor", "--json"], 0),
        (vec!["hash"], 0),
        (vec!["build", "--dry-run"], 0),
        (vec!["build", "-v"], 0),
        (vec!["images", "--no-gates"], 0),
        (vec!["render"], 0),
        (vec!["up"], 0),
        (vec!["deploy", "--yes", "--dry-run"], 0),
        (vec!["deploy", "--yes", "-v"], 0),
        (vec!["status"], 0),
        (vec!["status", "--json", "-v"], 0),
        (vec!["logs", "backend"], 0),
        (vec!["logs", "postgres", "-v"], 0),
        (vec!["smoke", "--ingress-addr", &ingress], 0),
        (vec!["diagnose"], 0),
        (vec!["stability", "--watch", "1s"], 0),
        (vec!["down", "--dry-run", "--purge"], 0),
        (vec!["down", "--yes", "--purge"], 0),
    ] {
        let code = run(&f, &mut runs, &args);
        assert_eq!(code, expected, "{:?}", runs.last().unwrap().1);
    }
    // The canaries did reach the xtask and come back in the cluster's answers: the values
    // went to helm on stdin, and the pod logs with them were printed (redacted or not: the
    // search below says).
    let stdin = fs::read_to_string(f.scenario().join("helm.stdin")).unwrap();
    assert!(
        stdin.contains(&c.env_auth) && stdin.contains(&c.file_mcp),
        "the secrets reach helm on stdin"
    );
    let logs = &runs.iter().find(|(t, _)| t == "logs backend").unwrap().1;
    assert!(
        logs.stdout.contains("settings: mcp_service_token="),
        "{logs:?}"
    );
    search(&c, &f, &runs, &mut problems);

    // A failing first install: the readiness watch quotes the crashing container's log, the
    // diagnose bundle saves logs and describes, then the release is uninstalled (exit 51, a
    // crash loop).
    let f = canary_cluster(&c);
    first_install(&f);
    f.rule("kubectl", WATCH, 0, "crashloop.json").rule(
        "kubectl",
        "*get pods -l app=todo-chatbot -o json",
        0,
        "crashloop.json",
    );
    let mut runs = Vec::new();
    assert_eq!(
        run(&f, &mut runs, &["deploy", "--yes"]),
        51,
        "{:?}",
        runs[0].1
    );
    assert_eq!(run(&f, &mut runs, &["diagnose"]), 0, "{:?}", runs[1].1);
    let b = bundles(&f);
    assert_eq!(b.len(), 2, "one bundle from deploy, one from diagnose");
    let saved =
        fs::read_to_string(b[1].join("logs-todo-app-backend-5b8f7d9c6-h3j9m-backend-previous.txt"))
            .unwrap();
    assert!(saved.contains("settings: mcp_service_token="), "{saved}");
    search(&c, &f, &runs, &mut problems);

    // A restart during the stability watch prints the crashed instance's last log lines.
    let f = canary_cluster(&c);
    f.rule(
        "kubectl",
        "*get pods -l app=todo-chatbot -o json",
        0,
        "ready.json,ready.json,restarted.json",
    );
    let mut runs = Vec::new();
    assert_eq!(
        run(&f, &mut runs, &["stability", "--watch", "5s"]),
        1,
        "{:?}",
        runs[0].1
    );
    runs[0].1.says("its last log lines");
    search(&c, &f, &runs, &mut problems);

    assert!(
        problems.is_empty(),
        "secrets leaked:\n  {}",
        problems.join("\n  ")
    );
}
