//! A fake minikube cluster for the cluster tasks: the healthy machine of `Fake::healthy`, the
//! fixtures of `tests/fixtures/cluster`, a repository with the three Dockerfiles and the
//! chart's dev values, fast polling, and no secret from the caller's environment.

use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::Fake;

pub const SECRET_VARS: [&str; 5] = [
    "BETTER_AUTH_SECRET",
    "MCP_SERVICE_TOKEN",
    "POSTGRES_PASSWORD",
    "DATABASE_URL",
    "OPENAI_API_KEY",
];

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cluster")
}

pub const WATCH: &str = "--context minikube -n todo-app get deployments,statefulsets,pods*";

pub fn cluster() -> Fake {
    let mut f = Fake::new();
    f.healthy();
    for e in fs::read_dir(fixtures_dir()).unwrap().flatten() {
        fs::copy(e.path(), f.scenario().join(e.file_name())).unwrap();
    }
    f.file("inspect.txt", "sha256:0123abcd 123456789\n");
    f.set_env("XTASK_POLL_MS", "5");
    // The fixtures' clock: a minute after their pods were created.
    f.set_env("XTASK_NOW", "2026-05-01T10:01:00Z");
    for k in SECRET_VARS {
        f.set_env(k, "");
    }
    f.repo_file(
        "frontend/Dockerfile",
        "ARG NODE_IMAGE=node:20-alpine\nFROM ${NODE_IMAGE}\nCOPY . /app\n",
    )
    .repo_file("frontend/server.js", "// server\n")
    .repo_file(
        "backend/Dockerfile",
        "ARG PYTHON_IMAGE=python:3.11-slim\nFROM ${PYTHON_IMAGE}\nCOPY . /app\n",
    )
    .repo_file("backend/app.py", "print('hi')\n")
    .repo_file("backend/.dockerignore", ".venv\n")
    .repo_file(
        "mcp/Dockerfile",
        "ARG PYTHON_IMAGE=python:3.11-slim\nFROM ${PYTHON_IMAGE}\nCOPY . /app\nCMD [\"todo-mcp\"]\n",
    )
    .repo_file(
        "helm/todo-app/Chart.yaml",
        "apiVersion: v2\nname: todo-app\nversion: 0.1.0\nappVersion: \"0.1.0\"\n",
    )
    .repo_file(
        "helm/todo-app/values-dev.yaml",
        "images:\n  frontend:\n    pullPolicy: Never\n",
    );
    f.rule(
        "kubectl",
        "--context minikube get --raw /readyz*",
        0,
        "readyz.txt",
    )
    .rule(
        "kubectl",
        "--context minikube -n ingress-nginx wait*",
        0,
        "ingress-wait.txt",
    )
    .rule(
        "kubectl",
        "--context minikube get nodes -o json",
        0,
        "nodes.json",
    )
    .rule(
        "kubectl",
        "--context minikube get pods -A -o json",
        0,
        "all-pods.json",
    )
    .rule("kubectl", "*get events -o json", 0, "events.json")
    .rule("kubectl", "*describe pod*", 0, "describe.txt")
    .rule(
        "kubectl",
        "*logs * -c migrate *",
        0,
        "logs-migrate-previous.txt",
    )
    .rule("kubectl", "*logs *", 0, "logs-backend-previous.txt")
    .rule("docker", "build*", 0, "-")
    .rule("helm", "template todo-app *", 0, "helm-template-dev.yaml")
    .rule("helm", "rollback *", 0, "helm4-rollback.txt")
    .rule("helm", "uninstall *", 0, "helm4-uninstall.txt");
    f
}

/// A first install: no release yet, images not built.
pub fn first_install(f: &Fake) {
    f.rule("docker", "image inspect*", 0, "-|1,-|1,-|1,inspect.txt")
        .rule_err(
            "helm",
            "history todo-app*",
            1,
            "-",
            "helm4-history-notfound.stderr",
        )
        .rule("helm", "upgrade --install*", 0, "helm4-install.txt");
}

/// An upgrade of revision 1 with every image already built.
pub fn upgrade(f: &Fake) {
    f.rule("docker", "image inspect*", 0, "inspect.txt")
        .rule("helm", "history todo-app*", 0, "helm4-history.json")
        .rule("helm", "upgrade --install*", 0, "helm4-upgrade.txt");
}

/// The calls, with the temporary repository path replaced, for snapshots.
pub fn calls(f: &Fake) -> String {
    let root = f.root.display().to_string();
    f.calls()
        .iter()
        .map(|c| c.replace(&root, "<repo>"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn report(f: &Fake) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(f.root.join("target/xtask/report.json")).unwrap())
        .unwrap()
}

pub fn count(f: &Fake, prefix: &str) -> usize {
    f.calls_starting(prefix).len()
}

/// The diagnose bundles written so far.
pub fn bundles(f: &Fake) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(f.root.join("target/xtask"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("diagnose-"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
