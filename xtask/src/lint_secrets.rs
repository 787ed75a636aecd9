//! `lint`'s check of the chart's secrets, with real `helm` and no cluster:
//!
//! - the plan's bare `helm install todo-app ./helm/todo-app` renders, generating
//!   betterAuthSecret, mcpServiceToken and postgresPassword (DATABASE_URL built from it);
//! - the plan's external-database form (`--set secrets.databaseUrl=... betterAuthSecret=...
//!   openaiApiKey=""`) deploys no PostgreSQL, passes the URL as given, uses no PostgreSQL
//!   password and leaves OPENAI_API_KEY unset (the backend then runs its rule-based agent);
//! - an upgrade keeps the release's values: `helm install --dry-run=server` against a
//!   stand-in API server that holds the release's Secret reads them back with `lookup`, a
//!   given value still wins, and the pods' secret checksum equals that of a render given the
//!   same values (so keeping them restarts nothing);
//! - a first install against the same server (no Secret yet) generates them;
//! - NOTES names what was generated or kept and never prints a value;
//! - `existingSecret` makes the chart create no Secret.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};

use crate::ctx::Ctx;
use crate::process::Cmd;
use crate::render::{self, Doc, CHART, NAMESPACE, RELEASE};
use crate::services::SERVICES;
use crate::stand_in_api::StandInApi;
use crate::tools::{Helm, Tool};

const SECRET_NAME: &str = "todo-app-secrets";
const GENERATED: [&str; 3] = [
    "BETTER_AUTH_SECRET",
    "MCP_SERVICE_TOKEN",
    "POSTGRES_PASSWORD",
];
/// What the release's Secret holds in the upgrade case (fixtures, not secrets).
const KEPT_AUTH: &str = "kept-better-auth-secret-of-the-release-0123";
const KEPT_TOKEN: &str = "kept-mcp-token-of-the-release";
const KEPT_PASSWORD: &str = "keptPostgresPassword0123";
const GIVEN_TOKEN: &str = "given-mcp-token-wins-0123456789";
const EXTERNAL_URL: &str =
    "postgresql://neon_user:neon-pass@ep-example.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
const GIVEN_AUTH: &str = "given-better-auth-secret-0123456789abcdef";

/// Every case with one Helm; returns a one-line summary.
pub fn check(ctx: &Ctx, tool: &Tool, app_version: &str) -> Result<String> {
    let helm = Helm { tool };
    let chart = ctx.root.join(CHART);
    let tags = image_tags(app_version);
    let template = |extra: &[&str]| -> Result<Vec<Doc>> {
        let mut flags = vec![
            "--kube-version".to_string(),
            render::KUBE_VERSION.to_string(),
        ];
        flags.extend(tags.iter().cloned());
        flags.extend(extra.iter().map(|s| s.to_string()));
        let cmd = helm.template(RELEASE, &chart, NAMESPACE, &flags);
        let out = ctx.run_ok(&cmd)?;
        render::split_docs(&out.stdout)
    };

    // The plan's bare install.
    let docs = template(&[]).context("the bare `helm install todo-app ./helm/todo-app`")?;
    let data = secret_data(&docs)?;
    for k in GENERATED {
        let v = data.get(k).map(String::as_str).unwrap_or("");
        ensure!(
            v.len() == 48 && v.chars().all(|c| c.is_ascii_alphanumeric()),
            "bare install: {k} was not generated as 48 letters and digits"
        );
    }
    ensure!(
        data["DATABASE_URL"]
            == format!(
                "postgresql://todo:{}@postgres-service:5432/todo",
                data["POSTGRES_PASSWORD"]
            ),
        "bare install: DATABASE_URL is not built from the generated PostgreSQL password"
    );

    // The plan's external-database form, with OPENAI_API_KEY empty.
    let docs = template(&[
        "--set",
        &format!("secrets.databaseUrl={EXTERNAL_URL}"),
        "--set",
        &format!("secrets.betterAuthSecret={GIVEN_AUTH}"),
        "--set",
        "secrets.openaiApiKey=",
    ])
    .context("the plan's `helm install ... --set secrets.databaseUrl=...`")?;
    if let Some(d) = docs
        .iter()
        .find(|d| d.component() == Some("postgres") || d.name() == "postgres-service")
    {
        bail!(
            "external database: the chart still renders {} {}",
            d.kind(),
            d.name()
        );
    }
    let data = secret_data(&docs)?;
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    ensure!(
        keys == ["BETTER_AUTH_SECRET", "DATABASE_URL", "MCP_SERVICE_TOKEN"],
        "external database: the Secret holds {keys:?}; expected no POSTGRES_PASSWORD and no OPENAI_API_KEY"
    );
    ensure!(
        data["DATABASE_URL"] == EXTERNAL_URL,
        "external database: DATABASE_URL is not the given URL"
    );
    ensure!(
        data["BETTER_AUTH_SECRET"] == GIVEN_AUTH,
        "external database: the given betterAuthSecret was not used"
    );
    ensure!(
        data["MCP_SERVICE_TOKEN"].len() == 48,
        "external database: mcpServiceToken was not generated"
    );

    // An upgrade: the release's Secret exists.
    let kept: BTreeMap<String, String> = [
        ("BETTER_AUTH_SECRET", KEPT_AUTH),
        ("MCP_SERVICE_TOKEN", KEPT_TOKEN),
        ("POSTGRES_PASSWORD", KEPT_PASSWORD),
        (
            "DATABASE_URL",
            &*format!("postgresql://todo:{KEPT_PASSWORD}@postgres-service:5432/todo"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let api = StandInApi::start(render::KUBE_VERSION, NAMESPACE, Some((SECRET_NAME, &kept)))?;
    let (docs, notes) = install_dry_run(
        ctx,
        tool,
        &api,
        &tags,
        &["--set", &format!("secrets.mcpServiceToken={GIVEN_TOKEN}")],
    )?;
    ensure!(
        api.seen()
            .iter()
            .any(|p| p == &format!("GET /api/v1/namespaces/{NAMESPACE}/secrets/{SECRET_NAME}")),
        "upgrade: the chart never looked the release's Secret up"
    );
    let data = secret_data(&docs)?;
    ensure!(
        data["BETTER_AUTH_SECRET"] == KEPT_AUTH && data["POSTGRES_PASSWORD"] == KEPT_PASSWORD,
        "upgrade: the release's betterAuthSecret / postgresPassword were not kept"
    );
    ensure!(
        data["DATABASE_URL"] == kept["DATABASE_URL"],
        "upgrade: DATABASE_URL does not use the kept PostgreSQL password"
    );
    ensure!(
        data["MCP_SERVICE_TOKEN"] == GIVEN_TOKEN,
        "upgrade: a given mcpServiceToken did not win over the release's"
    );
    ensure!(
        notes.contains("Kept from the release's Secret: betterAuthSecret, postgresPassword.")
            && !notes.contains("Generated now"),
        "upgrade: NOTES does not say which values were kept:\n{notes}"
    );
    never_printed(&notes, &data)?;
    let kept_checksum = secret_checksum(&docs)?;
    let given_all = template(&[
        "--set",
        &format!("secrets.betterAuthSecret={KEPT_AUTH}"),
        "--set",
        &format!("secrets.mcpServiceToken={GIVEN_TOKEN}"),
        "--set",
        &format!("secrets.postgresPassword={KEPT_PASSWORD}"),
    ])?;
    ensure!(
        kept_checksum == secret_checksum(&given_all)?,
        "upgrade: keeping the values changes the pods' checksum/secret (every upgrade would restart them)"
    );
    drop(api);

    // A first install against a cluster: nothing to keep, so everything is generated.
    let api = StandInApi::start(render::KUBE_VERSION, NAMESPACE, None)?;
    let (docs, notes) = install_dry_run(ctx, tool, &api, &tags, &[])?;
    let data = secret_data(&docs)?;
    ensure!(
        GENERATED
            .iter()
            .all(|k| data.get(*k).is_some_and(|v| v.len() == 48)),
        "first install: not every secret was generated"
    );
    ensure!(
        notes.contains("Generated now: betterAuthSecret, mcpServiceToken, postgresPassword."),
        "first install: NOTES does not say what was generated:\n{notes}"
    );
    never_printed(&notes, &data)?;
    drop(api);

    // Secrets managed outside Helm.
    let docs = template(&["--set", "secrets.existingSecret=managed-elsewhere"])?;
    if let Some(d) = docs.iter().find(|d| d.kind() == "Secret") {
        bail!(
            "existingSecret: the chart still creates Secret {}",
            d.name()
        );
    }

    Ok("generated on a bare install, kept on upgrade (lookup), a given value wins, none in NOTES; external database without PostgreSQL".into())
}

/// The image tags render pins, and no secret: the plan's commands as users type them.
fn image_tags(app_version: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for s in SERVICES {
        flags.push("--set".into());
        flags.push(format!("images.{}.tag={app_version}", s.name));
    }
    flags
}

/// `helm install --dry-run=server` against the stand-in API: the rendered objects and NOTES.
fn install_dry_run(
    ctx: &Ctx,
    tool: &Tool,
    api: &StandInApi,
    tags: &[String],
    extra: &[&str],
) -> Result<(Vec<Doc>, String)> {
    let kubeconfig = ctx
        .target_dir()
        .join("lint")
        .join(format!("stand-in-{}.kubeconfig", api.port));
    api.write_kubeconfig(&kubeconfig)?;
    let cmd = Cmd::new(tool.program.to_string_lossy().into_owned())
        .args([
            "install",
            RELEASE,
            &ctx.root.join(CHART).to_string_lossy(),
            "--namespace",
            NAMESPACE,
            "--kube-context",
            "stand-in",
            "--dry-run=server",
            // The stand-in serves no OpenAPI documents; kubernetes-validate checks the objects.
            "--disable-openapi-validation",
        ])
        .args(tags.iter().cloned())
        .args(extra.iter().map(|s| s.to_string()))
        .env("KUBECONFIG", kubeconfig.display().to_string())
        .env("HELM_KUBECONTEXT", "")
        .timeout(std::time::Duration::from_secs(120));
    let out = ctx.run_ok(&cmd)?;
    let _ = std::fs::remove_file(&kubeconfig);
    let text = out.stdout;
    let manifest = text
        .split_once("\nMANIFEST:\n")
        .map(|(_, m)| m)
        .context("`helm install --dry-run` printed no MANIFEST")?;
    let (manifest, notes) = manifest.split_once("\nNOTES:\n").unwrap_or((manifest, ""));
    Ok((render::split_docs(manifest)?, notes.to_string()))
}

/// The Secret's `stringData`.
fn secret_data(docs: &[Doc]) -> Result<BTreeMap<String, String>> {
    let secret = docs
        .iter()
        .find(|d| d.kind() == "Secret" && d.name() == SECRET_NAME)
        .with_context(|| format!("no Secret {SECRET_NAME} rendered"))?;
    let data = secret.value["stringData"]
        .as_object()
        .context("the Secret has no stringData")?;
    Ok(data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect())
}

fn secret_checksum(docs: &[Doc]) -> Result<String> {
    docs.iter()
        .find(|d| d.kind() == "Deployment" && d.component() == Some("backend"))
        .and_then(|d| {
            d.value["spec"]["template"]["metadata"]["annotations"]["checksum/secret"].as_str()
        })
        .map(str::to_string)
        .context("the backend Deployment has no checksum/secret annotation")
}

fn never_printed(notes: &str, data: &BTreeMap<String, String>) -> Result<()> {
    ensure!(!notes.trim().is_empty(), "NOTES is empty");
    for (k, v) in data {
        ensure!(
            v.len() < 8 || !notes.contains(v.as_str()),
            "NOTES prints the value of {k}"
        );
    }
    Ok(())
}
