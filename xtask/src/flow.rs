//! The user journey over HTTP, through the frontend only (as a browser would): sign up with
//! better-auth, create a task through the `/api/backend` proxy, ask the chat to add another,
//! see both in the list, then delete the account and its data. Used by the container smoke
//! of the `images` suite and by `dev --check`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::http::{self, excerpt, Response};

const TIMEOUT: Duration = Duration::from_secs(60);

/// One signed-in throwaway user.
pub struct Session {
    pub base: String,
    /// Sent as `Origin` (better-auth refuses cookie-authenticated POSTs from other origins).
    pub origin: String,
    /// Sent as `Host` when the server is reached through another address (the ingress).
    pub host: Option<String>,
    pub cookie: String,
    pub user_id: String,
}

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        let body = body.map(Value::to_string);
        let mut headers = vec![
            ("Cookie", self.cookie.as_str()),
            ("Origin", self.origin.as_str()),
        ];
        if let Some(h) = &self.host {
            headers.push(("Host", h.as_str()));
        }
        http::request(
            method,
            &format!("{}{path}", self.base),
            &headers,
            body.as_deref(),
            TIMEOUT,
        )
    }

    fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Result<Response> {
        let r = self.call(method, path, body)?;
        if r.status != status {
            bail!(
                "{method} {path}: expected HTTP {status}, got {}: {}",
                r.status,
                excerpt(&r.body)
            );
        }
        Ok(r)
    }
}

/// Sign a new user up; `email_prefix` makes the throwaway account recognisable.
pub fn sign_up(
    base: &str,
    origin: &str,
    host: Option<&str>,
    email_prefix: &str,
) -> Result<Session> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let email = format!("{email_prefix}-{nanos}@example.com");
    let password = format!("pw-{nanos}-Smoke!");
    let body = json!({"name": "Smoke Test", "email": email, "password": password}).to_string();
    let mut headers = vec![("Origin", origin)];
    if let Some(h) = host {
        headers.push(("Host", h));
    }
    let r = http::request(
        "POST",
        &format!("{base}/api/auth/sign-up/email"),
        &headers,
        Some(&body),
        TIMEOUT,
    )?;
    if r.status != 200 {
        bail!(
            "sign-up through the frontend failed: HTTP {}: {}",
            r.status,
            excerpt(&r.body)
        );
    }
    let cookie = r.cookies().join("; ");
    if cookie.is_empty() {
        bail!("sign-up answered 200 but set no session cookie");
    }
    let user_id = r.json()?["user"]["id"]
        .as_str()
        .context("sign-up answer has no user.id")?
        .to_string();
    Ok(Session {
        base: base.to_string(),
        origin: origin.to_string(),
        host: host.map(str::to_string),
        cookie,
        user_id,
    })
}

/// What the journey saw, for the report.
pub struct Journey {
    pub user_id: String,
    pub tasks_seen: usize,
}

/// The whole journey; the account is deleted at the end unless `keep`.
pub fn run(base: &str, origin: &str, host: Option<&str>, keep: bool) -> Result<Journey> {
    let s = sign_up(base, origin, host, "xtask-smoke")?;
    let result = journey(&s);
    if !keep {
        let cleanup = delete_account(&s);
        if let (Ok(_), Err(e)) = (&result, cleanup) {
            return Err(e.context("the journey passed but deleting the throwaway account failed"));
        }
    }
    result
}

/// Tasks through the proxy and the chat, for a signed-in user.
pub fn journey(s: &Session) -> Result<Journey> {
    let uid = &s.user_id;
    let token = s.expect("GET", "/api/auth/token", None, 200)?.json()?;
    if token["token"]
        .as_str()
        .is_none_or(|t| t.split('.').count() != 3)
    {
        bail!("/api/auth/token gave no JWT: {token}");
    }
    let created = s
        .expect(
            "POST",
            &format!("/api/backend/{uid}/tasks"),
            Some(&json!({"title": "smoke: write the report"})),
            201,
        )?
        .json()?;
    if created["user_id"] != json!(uid) {
        bail!(
            "the created task belongs to {} instead of {uid}",
            created["user_id"]
        );
    }
    let chat = s
        .expect(
            "POST",
            &format!("/api/backend/{uid}/chat"),
            Some(&json!({"message": "Add a task to buy milk"})),
            200,
        )?
        .json()?;
    let called: Vec<&str> = chat["tool_calls"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    if !called.contains(&"add_task") {
        bail!("the chat did not call add_task: {chat}");
    }
    let list = s
        .expect("GET", &format!("/api/backend/{uid}/tasks"), None, 200)?
        .json()?;
    let titles: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["title"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    if !titles.iter().any(|t| t.contains("milk"))
        || !titles.iter().any(|t| t.contains("write the report"))
    {
        bail!("the task list lacks what was just added: {list}");
    }
    Ok(Journey {
        user_id: uid.clone(),
        tasks_seen: titles.len(),
    })
}

/// The backend's data first (it needs the session), then the better-auth user.
pub fn delete_account(s: &Session) -> Result<()> {
    s.expect("DELETE", &format!("/api/backend/{}", s.user_id), None, 204)?;
    s.expect("POST", "/api/auth/delete-user", Some(&json!({})), 200)?;
    Ok(())
}
