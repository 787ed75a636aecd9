//! `lint`'s check of the chart's secrets, with real `helm` and no cluster:
//!
//! - the plan's bare `helm install todo-app ./helm/todo-app` renders, generating
//!   betterAuthSecret, mcpServiceToken and postgresPassword (DATABASE_URL built from it);
//! - the plan's external-database form (`--set secrets.databaseUrl=... betterAuthSecret=...
//!   openaiApiKey=""`) deploys no PostgreSQL, passes the URL as given, uses no PostgreSQL
//!   password and leaves OPENAI_API_KEY unset (the backend then runs its rule-based agent);
//! - `existingSecret` makes the chart create no Secret.
//!
//! That an upgrade keeps the release's values (`lookup` reads its Secret back) needs an API
//! server: the `cluster` suite of `cargo xtask test` proves it on a real cluster.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};

use crate::ctx::Ctx;
use crate::kube::{CHART, NAMESPACE, RELEASE};
use crate::render::{self, Doc};
use crate::services::SERVICES;
use crate::tools::{Helm, Tool};

const SECRET_NAME: &str = "todo-app-secrets";
const GENERATED: [&str; 3] = [
    "BETTER_AUTH_SECRET",
    "MCP_SERVICE_TOKEN",
    "POSTGRES_PASSWORD",
];
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

    // Secrets managed outside Helm.
    let docs = template(&["--set", "secrets.existingSecret=managed-elsewhere"])?;
    if let Some(d) = docs.iter().find(|d| d.kind() == "Secret") {
        bail!(
            "existingSecret: the chart still creates Secret {}",
            d.name()
        );
    }

    Ok("generated on a bare install, a given value wins; external database without PostgreSQL; existingSecret creates none".into())
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
