//! The release's secrets: a variable set in the environment wins; otherwise `.data/secrets.env`
//! (mode 0600, git-ignored), generated once with random values and reused by every later
//! `deploy` (and `dev`). Every value is registered with the runner's redaction, so it never
//! shows in echoes, `--dry-run`, logs or error tails.
//!
//! [`register_known`] does the registering alone, for every task (a `status` or `diagnose`
//! never loads the secrets, yet pod logs and describes may quote them), and
//! [`register_set_secrets`] / [`register_values_secrets`] register what a `--set` or a values
//! file passes under a secret-looking key.
//!
//! Once the release exists, its own Secret holds every value and the chart keeps what it is
//! not given (`lookup`). So for an installed release nothing is generated here: only what the
//! environment or the file holds is passed, and a missing file (another machine, a deleted
//! `.data/`) can never replace the running release's secrets with new random ones.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::ctx::Env;
use crate::process::register_secret;

pub const FILE: &str = ".data/secrets.env";

/// Environment variable, chart value under `secrets.`, and the random bytes to generate
/// (0: never generated, optional or external).
pub const KEYS: [(&str, &str, usize); 5] = [
    ("BETTER_AUTH_SECRET", "betterAuthSecret", 32),
    ("MCP_SERVICE_TOKEN", "mcpServiceToken", 24),
    // URL-safe (hex) because it goes unencoded into DATABASE_URL.
    ("POSTGRES_PASSWORD", "postgresPassword", 16),
    ("DATABASE_URL", "databaseUrl", 0),
    ("OPENAI_API_KEY", "openaiApiKey", 0),
];

#[derive(Debug, Default)]
pub struct Secrets {
    /// Env var name → value (non-empty only).
    pub values: BTreeMap<&'static str, String>,
    /// Where each came from: "environment", "generated" (by this run) or the file.
    pub origin: BTreeMap<&'static str, &'static str>,
    /// The file was (or, under `--dry-run`, would be) created by this run.
    pub generated: Option<PathBuf>,
    /// Generated values neither the environment nor the file holds, left to the installed
    /// release's Secret (chart value names, e.g. `betterAuthSecret`).
    pub kept_by_release: Vec<&'static str>,
}

impl Secrets {
    /// The chart values as one YAML document (JSON is YAML), for `helm ... -f -`.
    pub fn values_yaml(&self) -> String {
        let mut m = serde_json::Map::new();
        for (env, key, _) in KEYS {
            if let Some(v) = self.values.get(env) {
                m.insert(key.to_string(), serde_json::Value::String(v.clone()));
            }
        }
        serde_json::json!({ "secrets": m }).to_string()
    }

    /// The same, with every value replaced by `***`, for the plan.
    pub fn redacted_keys(&self) -> Vec<String> {
        KEYS.iter()
            .filter(|(env, _, _)| self.values.contains_key(env))
            .map(|(env, key, _)| match self.origin[env] {
                "generated" => format!("secrets.{key}=*** (newly generated)"),
                from => format!("secrets.{key}=*** (from {from})"),
            })
            .chain(
                self.kept_by_release
                    .iter()
                    .map(|key| format!("secrets.{key}: not passed, the chart keeps the release's")),
            )
            .collect()
    }
}

/// Loads the secrets; creates the file when a generated value is needed and it is absent
/// (`write == false` under `--dry-run`: the values are drawn but nothing is written).
pub fn load(root: &Path, vars: &Env, write: bool) -> Result<Secrets> {
    load_for(root, vars, write, false)
}

/// [`load`] for a deploy: with `release_exists`, nothing is generated or written, and the
/// values neither the environment nor the file holds are left to the release's own Secret.
pub fn load_for(root: &Path, vars: &Env, write: bool, release_exists: bool) -> Result<Secrets> {
    let path = root.join(FILE);
    let mut s = Secrets::default();
    let mut file = read_file(&path)?;
    let missing = |file: &BTreeMap<String, String>| -> Vec<(&'static str, &'static str)> {
        KEYS.iter()
            .filter(|(env, _, n)| {
                *n > 0
                    && env_value(vars, env).is_none()
                    && file.get(*env).is_none_or(|v| v.is_empty())
            })
            .map(|(env, key, _)| (*env, *key))
            .collect()
    };
    if release_exists {
        s.kept_by_release = missing(&file).into_iter().map(|(_, key)| key).collect();
    }
    let needs_file = !release_exists && !missing(&file).is_empty();
    let mut fresh = Vec::new();
    if needs_file {
        let generated = generate()?;
        for (k, v) in generated {
            if file.get(k).is_none_or(|v| v.is_empty()) {
                fresh.push(k);
                file.insert(k.to_string(), v);
            }
        }
        if write {
            write_file(&path, &file)?;
        }
        s.generated = Some(path.clone());
    }
    for (env, _, _) in KEYS {
        let (value, origin) = match env_value(vars, env) {
            Some(v) => (v, "environment"),
            None => match file.get(env).filter(|v| !v.is_empty()) {
                Some(v) if fresh.contains(&env) => (v.clone(), "generated"),
                Some(v) => (v.clone(), FILE),
                None => continue,
            },
        };
        register(&value);
        s.values.insert(env, value);
        s.origin.insert(env, origin);
    }
    Ok(s)
}

fn env_value(env: &Env, k: &str) -> Option<String> {
    env.non_empty(k).map(str::to_string)
}

/// A secret value, and the password inside it when it is a URL with credentials.
fn register(value: &str) {
    register_secret(value);
    register_url_password(value);
}

/// The password of `scheme://user:password@host/…`, as written and percent-decoded; any
/// other text is left alone.
pub fn register_url_password(text: &str) {
    let Some((_, rest)) = text.split_once("://") else {
        return;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return;
    };
    if let Some((_, password)) = userinfo.split_once(':') {
        register_secret(password);
        register_secret(&percent_decode(password));
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a values path (`secrets.betterAuthSecret`, `postgresql.auth.password`) or a
/// variable name (`GITHUB_TOKEN`) names a secret: anything under `secrets.`, or a last part
/// that says password, secret, token, API key or private key. A part that only names or
/// points at a secret (`existingSecret`, `tls.secretName`, `tokenFile`) does not.
pub fn is_secret_key(path: &str) -> bool {
    let parts: Vec<String> = path
        .split('.')
        .map(|p| {
            p.split('[')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect();
    let Some(last) = parts.last().filter(|l| !l.is_empty()) else {
        return false;
    };
    let reference = last.starts_with("existing")
        || ["name", "ref", "file", "path", "dir"]
            .iter()
            .any(|r| last.ends_with(r));
    if reference {
        return false;
    }
    parts[..parts.len() - 1].iter().any(|p| p == "secrets")
        || [
            "password",
            "passwd",
            "secret",
            "token",
            "apikey",
            "privatekey",
        ]
        .iter()
        .any(|w| last.contains(w))
}

/// Registers the value of every `--set` pair (`K=V`, or Helm's `K1=V1,K2=V2`) whose key
/// names a secret ([`is_secret_key`]), and the password of any URL among all the values, so
/// the command line, logs and messages show `***` for them. Call it before building the
/// command.
pub fn register_set_secrets(set: &[String]) {
    for arg in set {
        for (key, value) in split_set(arg) {
            register_url_password(&value);
            if !is_secret_key(&key) {
                continue;
            }
            register_secret(&value);
            // A list, `{a,b}`: each element too.
            if let Some(list) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                for item in list.split(',') {
                    register_secret(item.trim());
                }
            }
        }
    }
}

/// Helm's `--set` syntax: pairs split at commas outside `{…}`, key and value at the first
/// `=`, a backslash escaping the next character.
fn split_set(arg: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let (mut part, mut depth, mut escaped) = (String::new(), 0usize, false);
    let mut flush = |part: &mut String| {
        if let Some(i) = find_unescaped(part, '=') {
            pairs.push((part[..i].to_string(), unescape(&part[i + 1..])));
        }
        part.clear();
    };
    for c in arg.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
        } else if c == ',' && depth == 0 {
            flush(&mut part);
            continue;
        }
        part.push(c);
    }
    flush(&mut part);
    pairs
}

fn find_unescaped(s: &str, needle: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, c) if c == needle => return Some(i),
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Registers every scalar of a values document (YAML or JSON, as `helm -f FILE` reads) that
/// sits under a secret-looking key ([`is_secret_key`]), and the password of any URL in it.
/// A file that does not parse registers nothing; Helm will say what is wrong with it.
pub fn register_values_secrets(yaml: &str) {
    fn walk(path: &str, v: &serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, v);
                }
            }
            serde_json::Value::Array(a) => {
                for v in a {
                    walk(path, v);
                }
            }
            serde_json::Value::String(s) => {
                register_url_password(s);
                if is_secret_key(path) {
                    register_secret(s);
                }
            }
            serde_json::Value::Number(n) if is_secret_key(path) => register_secret(&n.to_string()),
            _ => {}
        }
    }
    if let Ok(v) = serde_saphyr::from_str::<serde_json::Value>(yaml) {
        walk("", &v);
    }
}

/// The same for a values file on disk (unreadable: nothing, Helm will say so).
pub fn register_values_file(path: &Path) {
    if let Ok(text) = fs::read_to_string(path) {
        register_values_secrets(&text);
    }
}

/// Registers, for redaction, every secret this machine holds, without creating or changing
/// anything: the release's variables and any secret-named variable in the environment, every
/// value in `.data/secrets.env` (those the environment overrides too: the cluster may still
/// run with them), and the password of any URL with credentials in the environment
/// (`DATABASE_URL`, `HTTPS_PROXY`, …). Every task calls it first.
pub fn register_known(root: &Path, env: &Env) {
    register_known_from(
        root,
        env.vars().map(|(k, v)| (k.to_string(), v.to_string())),
    );
}

fn register_known_from(root: &Path, vars: impl Iterator<Item = (String, String)>) {
    for (k, v) in vars {
        register_url_password(&v);
        if KEYS.iter().any(|(env, _, _)| *env == k) || is_secret_key(&k) {
            register(&v);
        }
    }
    // The mode check is `load`'s business; hiding the values is right whatever the mode.
    if let Ok(text) = fs::read_to_string(root.join(FILE)) {
        for (_, v) in parse_env_text(&text) {
            register(&v);
        }
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by other users (mode {mode:o}); fix it with `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(parse_env_text(&text))
}

fn parse_env_text(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().trim_start_matches("export ").to_string(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect()
}

fn write_file(path: &Path, values: &BTreeMap<String, String>) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut text = String::from(
        "# Generated once by `cargo xtask deploy`; reused by deploy and dev. Never commit it.\n\
         # A variable set in the environment wins over the value here.\n",
    );
    for (k, v) in values {
        text.push_str(&format!("{k}={v}\n"));
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn generate() -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    for (env, _, n) in KEYS {
        if n == 0 {
            continue;
        }
        out.push((env, crate::context_hash::hex(&random_bytes(n)?)));
    }
    Ok(out)
}

/// The operating system's CSPRNG.
fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_private_permissions_and_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(dir.path(), &Env::default(), true).unwrap();
        assert!(first.generated.is_some());
        let path = dir.path().join(FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let second = load(dir.path(), &Env::default(), true).unwrap();
        assert!(second.generated.is_none(), "reused, not regenerated");
        assert_eq!(
            first.values["BETTER_AUTH_SECRET"],
            second.values["BETTER_AUTH_SECRET"]
        );
        assert_eq!(second.values["BETTER_AUTH_SECRET"].len(), 64);
        assert!(second.values["POSTGRES_PASSWORD"]
            .chars()
            .all(|c| c.is_ascii_hexdigit()));
        assert!(!second.values.contains_key("OPENAI_API_KEY"));
        let yaml = second.values_yaml();
        assert!(yaml.contains("\"betterAuthSecret\""), "{yaml}");
        assert!(second
            .redacted_keys()
            .iter()
            .all(|k| k.contains("***") && !k.contains(&second.values["MCP_SERVICE_TOKEN"])));
    }

    #[test]
    fn secret_keys_and_references() {
        for k in [
            "secrets.betterAuthSecret",
            "secrets.databaseUrl",
            "secrets.openaiApiKey",
            "postgresql.auth.password",
            "backend.env.OPENAI_API_KEY",
            "mcp.serviceToken",
            "s3.secretKey",
            "BETTER_AUTH_SECRET",
            "GITHUB_TOKEN",
            "tls.privateKey",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "images.backend.tag",
            "secrets.existingSecret",
            "ingress.tls[0].secretName",
            "auth.tokenFile",
            "ingress.host",
            "PATH",
            "",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn set_values_under_secret_keys_are_registered() {
        register_set_secrets(&[
            "images.backend.tag=tag-not-a-secret-1".into(),
            "secrets.mcpServiceToken=set-token-0123456789".into(),
            r"postgresql.auth.password=pw-with\,comma-0123,replicas=2".into(),
            "backend.env.OPENAI_API_KEY={key-a-0123456,key-b-0123456}".into(),
            "externalDatabase.url=postgresql://u:url-pw-0123456@db:5432/x".into(),
        ]);
        let shown = crate::process::redact(
            "tag-not-a-secret-1 set-token-0123456789 pw-with,comma-0123 key-a-0123456 key-b-0123456 url-pw-0123456",
        );
        assert_eq!(shown, "tag-not-a-secret-1 *** *** *** *** ***");
        assert_eq!(
            split_set(r"a=1,b={x,y},c=d\=e\,f"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "{x,y}".into()),
                ("c".into(), "d=e,f".into())
            ]
        );
    }

    #[test]
    fn values_files_and_urls() {
        register_values_secrets(
            "secrets:\n  betterAuthSecret: yaml-auth-0123456789\n  existingSecret: my-secret-name\nbackend:\n  env:\n    OPENAI_API_KEY: \"yaml-openai-0123456\"\n  replicas: 2\nimage: not-secret-0123456\nproxy: http://proxy-user:proxy-pw%40x@proxy:3128\n",
        );
        let shown = crate::process::redact(
            "yaml-auth-0123456789 my-secret-name yaml-openai-0123456 not-secret-0123456 proxy-pw%40x proxy-pw@x",
        );
        assert_eq!(shown, "*** my-secret-name *** not-secret-0123456 *** ***");
        // Not a URL with a password: nothing.
        register_url_password("https://example.com/a:b@c");
        assert_eq!(crate::process::redact("a:b@c"), "a:b@c");
    }

    #[test]
    fn known_secrets_are_registered_without_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        // Readable by others: `load` refuses it, but hiding its values is still right.
        fs::write(&p, "MCP_SERVICE_TOKEN=file-token-0123456789\n").unwrap();
        let env = [
            (
                "XTASK_TEST_DB_URL",
                "postgresql://todo:env-url-pw-0123456@db:5432/todo",
            ),
            ("XTASK_TEST_API_TOKEN", "env-token-0123456789"),
            ("XTASK_TEST_IMAGE", "plain-value-0123456"),
        ];
        register_known_from(
            dir.path(),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        assert_eq!(
            crate::process::redact("plain-value-0123456"),
            "plain-value-0123456"
        );
        assert_eq!(
            crate::process::redact("file-token-0123456789 env-url-pw-0123456 env-token-0123456789"),
            "*** *** ***"
        );
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "MCP_SERVICE_TOKEN=file-token-0123456789\n"
        );
    }

    #[test]
    fn an_installed_release_keeps_what_neither_the_environment_nor_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        // No file: nothing is generated or written, and every generated value is left to the
        // release's Secret.
        let s = load_for(dir.path(), &Env::default(), true, true).unwrap();
        assert!(s.generated.is_none());
        assert!(!dir.path().join(FILE).exists());
        assert!(s.values.is_empty(), "{:?}", s.values.keys());
        assert_eq!(
            s.kept_by_release,
            ["betterAuthSecret", "mcpServiceToken", "postgresPassword"]
        );
        assert_eq!(s.values_yaml(), r#"{"secrets":{}}"#);
        assert!(s.redacted_keys().contains(
            &"secrets.postgresPassword: not passed, the chart keeps the release's".into()
        ));

        // A file holding some of them: those are passed, the others kept, the file untouched.
        let path = dir.path().join(FILE);
        write_file(
            &path,
            &[("BETTER_AUTH_SECRET".to_string(), "b".repeat(40))].into(),
        )
        .unwrap();
        let before = fs::read_to_string(&path).unwrap();
        let s = load_for(dir.path(), &Env::default(), true, true).unwrap();
        assert_eq!(s.values["BETTER_AUTH_SECRET"], "b".repeat(40));
        assert_eq!(s.origin["BETTER_AUTH_SECRET"], FILE);
        assert_eq!(s.kept_by_release, ["mcpServiceToken", "postgresPassword"]);
        assert!(s.generated.is_none());
        assert_eq!(fs::read_to_string(&path).unwrap(), before);

        // Before the first install the same file is completed with generated values.
        let s = load_for(dir.path(), &Env::default(), true, false).unwrap();
        assert!(s.kept_by_release.is_empty());
        assert_eq!(s.values["BETTER_AUTH_SECRET"], "b".repeat(40));
        assert_eq!(s.origin["MCP_SERVICE_TOKEN"], "generated");
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains("POSTGRES_PASSWORD="));
    }

    #[test]
    fn dry_run_writes_nothing_and_a_public_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load(dir.path(), &Env::default(), false).unwrap();
        assert!(!dir.path().join(FILE).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(FILE);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "BETTER_AUTH_SECRET=x\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            let err = load(dir.path(), &Env::default(), true)
                .unwrap_err()
                .to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }
}
