//! Which images a Docker daemon has, asked the fast way when it can be.
//!
//! A no-op build asks one question: are these content tags in the daemon yet? Each
//! `docker image inspect` process costs tens of milliseconds (the CLI's own start-up), more
//! than everything else a no-op build does. So when the daemon the `docker` CLI would talk
//! to is a Unix socket on this machine, the question goes straight to the Engine API over
//! that socket: one connection, every image's `GET /images/{name}/json` written at once
//! (pipelined), every answer read back, one round trip in all. That endpoint is the one
//! `docker image inspect` itself calls, so the answer is the same: exact names, resolved by
//! the daemon. (`GET /images/json?filters=reference` would be one request too, but the daemon
//! walks every image it has to answer it: several times slower here, and slower still as
//! images pile up.)
//!
//! Anything else keeps the CLI: a daemon elsewhere (minikube's `docker-env`, `tcp://`,
//! `ssh://`, a `docker context`), `XTASK_DOCKER_API=0`, or any failure of the socket path,
//! which then falls back to the same `docker image inspect` calls as before. `-v` says what
//! was asked, and why the CLI answered instead. The query only reads, so it also runs under
//! `--dry-run`, as `docker image inspect` does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::ctx::Ctx;
use crate::http::{Conn, Endpoint, Request, Response};
use crate::tools::Docker;

/// The API version asked for first: Docker 20.10's (Debian's `docker.io`), the oldest engine
/// the project supports. A daemon that no longer speaks it says which version it does speak,
/// and the question is asked once more in that one.
const API_VERSION: &str = "1.41";

const TIMEOUT: Duration = Duration::from_secs(5);

/// What the daemon says about one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    /// Bytes, as `docker image inspect --format '{{.Size}}'` prints them (`None` when the
    /// CLI printed something else).
    pub size: Option<u64>,
}

/// Each image's id and size, `None` for an image the daemon does not have, in the order
/// asked. `env` is the target's docker-env (empty for the host daemon).
pub fn inspect(
    ctx: &Ctx,
    env: &[(String, String)],
    images: &[String],
) -> Result<Vec<Option<ImageInfo>>> {
    if images.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(found) = via_socket(ctx, env, images) {
        return Ok(found);
    }
    let docker = Docker {
        tool: &ctx.tools.docker,
        env,
    };
    images
        .iter()
        .map(|image| {
            let out = ctx.run(&docker.image_inspect(image))?;
            Ok(out.success().then(|| parse_cli(&out.stdout)))
        })
        .collect()
}

/// The Engine API's answer, or `None` (with the reason under `-v`) when the CLI must answer.
fn via_socket(
    ctx: &Ctx,
    env: &[(String, String)],
    images: &[String],
) -> Option<Vec<Option<ImageInfo>>> {
    let verbose = ctx.global.verbose > 0;
    if !env.is_empty() {
        // minikube's docker-env: a daemon behind TLS on another machine.
        return None;
    }
    let var = |k: &str| ctx.env.get(k).map(str::to_string);
    let socket = match local_socket(var, docker_config(var).as_deref()) {
        Ok(s) => s,
        Err(why) => {
            if verbose {
                ctx.say(format!(
                    "  (Engine API not used: {why}; asking the docker CLI)"
                ));
            }
            return None;
        }
    };
    if verbose {
        ctx.say(format!(
            "$ GET unix://{} /v{API_VERSION}/images/{{{}}}/json (Engine API: one round trip, {} pipelined inspects)",
            socket.display(),
            images.join(","),
            images.len()
        ));
    }
    match ask(&socket, images) {
        Ok(found) => Some(found),
        Err(e) => {
            if verbose {
                ctx.say(format!(
                    "  (Engine API failed: {e:#}; asking the docker CLI instead)"
                ));
            }
            None
        }
    }
}

/// The daemon socket the `docker` CLI would use, resolved as the CLI resolves it: `DOCKER_HOST`
/// first, then `DOCKER_CONTEXT`, then the config's `currentContext`, then the default socket.
/// `Err` says why it is not a local socket (or why the API is turned off).
pub fn local_socket(
    var: impl Fn(&str) -> Option<String>,
    config: Option<&str>,
) -> std::result::Result<PathBuf, String> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty());
    if let Some(v) = set("XTASK_DOCKER_API") {
        if ["0", "false", "off", "no"].contains(&v.to_ascii_lowercase().as_str()) {
            return Err(format!("XTASK_DOCKER_API={v}"));
        }
    }
    if let Some(host) = set("DOCKER_HOST") {
        return match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(format!("DOCKER_HOST={host} is not a Unix socket")),
        };
    }
    if let Some(c) = set("DOCKER_CONTEXT").filter(|c| c != "default") {
        return Err(format!("DOCKER_CONTEXT={c}"));
    }
    if let Some(text) = config {
        let current = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["currentContext"].as_str().map(str::to_string))
            .filter(|c| !c.is_empty() && c != "default");
        if let Some(c) = current {
            return Err(format!("the docker context is `{c}`"));
        }
    }
    Ok(PathBuf::from("/var/run/docker.sock"))
}

/// The CLI's config file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), when
/// there is one.
fn docker_config(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let dir = var("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".docker")))?;
    std::fs::read_to_string(dir.join("config.json")).ok()
}

/// Every image's inspect on one connection; once more in the daemon's own API version when
/// it refuses ours.
fn ask(socket: &Path, images: &[String]) -> Result<Vec<Option<ImageInfo>>> {
    for name in images {
        // The name goes into the path as the CLI puts it; anything else would need escaping
        // that the CLI does not do, so it is left to the CLI.
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:/@".contains(c))
        {
            bail!("{name:?} is not a plain image reference");
        }
    }
    let endpoint = Endpoint::Unix(socket.to_path_buf());
    let mut conn = Conn::open(&endpoint, "localhost", TIMEOUT)?;
    let answers = pipelined(&mut conn, API_VERSION, images)?;
    let other = answers
        .iter()
        .find(|r| r.status == 400)
        .and_then(|r| r.header("Api-Version"))
        .filter(|v| *v != API_VERSION && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_string);
    let answers = match other {
        Some(version) => {
            if !conn.reusable() {
                conn = Conn::open(&endpoint, "localhost", TIMEOUT)?;
            }
            pipelined(&mut conn, &version, images)?
        }
        None => answers,
    };
    images
        .iter()
        .zip(&answers)
        .map(|(name, r)| parse_inspect(name, r))
        .collect()
}

fn pipelined(conn: &mut Conn, version: &str, images: &[String]) -> Result<Vec<Response>> {
    let paths: Vec<String> = images
        .iter()
        .map(|i| format!("/v{version}/images/{i}/json"))
        .collect();
    let reqs: Vec<Request> = paths.iter().map(|p| Request::get(p)).collect();
    conn.pipeline(&reqs)
}

/// One inspect answer: 200 with the image, 404 for an image the daemon lacks.
pub fn parse_inspect(name: &str, r: &Response) -> Result<Option<ImageInfo>> {
    match r.status {
        200 => {
            #[derive(serde::Deserialize)]
            struct Inspect {
                #[serde(rename = "Id")]
                id: String,
                #[serde(rename = "Size")]
                size: u64,
            }
            let i: Inspect = serde_json::from_str(&r.body)
                .with_context(|| format!("the Engine API's inspect of {name}"))?;
            Ok(Some(ImageInfo {
                id: i.id,
                size: Some(i.size),
            }))
        }
        404 => Ok(None),
        s => bail!(
            "inspecting {name}: HTTP {s}: {}",
            crate::http::excerpt(&r.body)
        ),
    }
}

/// `docker image inspect --format '{{.Id}} {{.Size}}'`'s line (exit 0: the image is there,
/// whatever it printed).
fn parse_cli(stdout: &str) -> ImageInfo {
    let mut parts = stdout.split_whitespace();
    ImageInfo {
        id: parts.next().unwrap_or_default().to_string(),
        size: parts.next().and_then(|s| s.parse().ok()),
    }
}

#[cfg(test)]
#[path = "../../tests/it/fake_engine.rs"]
mod fake_engine;

#[cfg(test)]
mod tests {
    use super::fake_engine::Engine;
    use super::*;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_socket_is_resolved_as_the_cli_resolves_it() {
        let default = Ok(PathBuf::from("/var/run/docker.sock"));
        assert_eq!(local_socket(vars(&[]), None), default);
        assert_eq!(
            local_socket(
                vars(&[("DOCKER_HOST", "unix:///run/user/1000/docker.sock")]),
                None
            ),
            Ok(PathBuf::from("/run/user/1000/docker.sock"))
        );
        // minikube's docker-env, a remote daemon, an ssh one: the CLI answers.
        for host in [
            "tcp://192.168.49.2:2376",
            "ssh://me@box",
            "npipe:////./pipe/x",
        ] {
            let got = local_socket(vars(&[("DOCKER_HOST", host)]), None);
            assert!(got.unwrap_err().contains("not a Unix socket"), "{host}");
        }
        // A context other than the default one names another daemon.
        assert!(local_socket(vars(&[("DOCKER_CONTEXT", "desktop-linux")]), None).is_err());
        assert_eq!(
            local_socket(vars(&[("DOCKER_CONTEXT", "default")]), None),
            default
        );
        let cfg = r#"{"auths":{},"currentContext":"colima"}"#;
        assert!(local_socket(vars(&[]), Some(cfg))
            .unwrap_err()
            .contains("colima"));
        assert_eq!(local_socket(vars(&[]), Some(r#"{"auths":{}}"#)), default);
        assert_eq!(local_socket(vars(&[]), Some("not json")), default);
        // DOCKER_HOST wins over the context, as in the CLI.
        assert_eq!(
            local_socket(vars(&[("DOCKER_HOST", "unix:///x.sock")]), Some(cfg)),
            Ok(PathBuf::from("/x.sock"))
        );
        // Turned off.
        assert!(local_socket(vars(&[("XTASK_DOCKER_API", "0")]), None).is_err());
        assert_eq!(
            local_socket(vars(&[("XTASK_DOCKER_API", "1")]), None),
            default
        );
    }

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    #[test]
    fn inspect_answers_are_read_exactly() {
        // The fields of a real 20.10 answer (`GET /v1.41/images/todo-mcp:3d0f8a8610f6/json`).
        let body = r#"{"Id":"sha256:4ac79f678a9a","RepoTags":["todo-mcp:3d0f8a8610f6"],"Size":376746479,"VirtualSize":376746479}"#;
        assert_eq!(
            parse_inspect("todo-mcp:3d0f8a8610f6", &answer(200, body)).unwrap(),
            Some(ImageInfo {
                id: "sha256:4ac79f678a9a".into(),
                size: Some(376746479)
            })
        );
        let missing = r#"{"message":"No such image: todo-mcp:nope"}"#;
        assert_eq!(
            parse_inspect("todo-mcp:nope", &answer(404, missing)).unwrap(),
            None
        );
        let err = parse_inspect("x:y", &answer(500, r#"{"message":"boom"}"#)).unwrap_err();
        assert!(format!("{err:#}").contains("HTTP 500"), "{err:#}");
        assert!(parse_inspect("x:y", &answer(200, "{}")).is_err());
        assert_eq!(
            parse_cli("sha256:abc 1234\n"),
            ImageInfo {
                id: "sha256:abc".into(),
                size: Some(1234)
            }
        );
        assert_eq!(parse_cli("").size, None);
    }

    /// A stand-in daemon at `dir/docker.sock` holding the images `have` (name, size).
    fn engine(dir: &Path, speaks: &'static str, have: &'static [(&str, u64)]) -> (PathBuf, Engine) {
        let sock = dir.join("docker.sock");
        let size = |name: &str| have.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        let e = Engine::serve(&sock, speaks, size);
        (sock, e)
    }

    #[test]
    fn one_round_trip_answers_every_image() {
        let dir = tempfile::tempdir().unwrap();
        let (sock, e) = engine(
            dir.path(),
            "1.41",
            &[("todo-frontend:aaa", 7), ("todo-mcp:ccc", 9)],
        );
        let images: Vec<String> = ["todo-frontend:aaa", "todo-backend:bbb", "todo-mcp:ccc"]
            .map(String::from)
            .into();
        let got = ask(&sock, &images).unwrap();
        assert_eq!(got[0].as_ref().and_then(|i| i.size), Some(7));
        assert_eq!(got[1], None);
        assert_eq!(
            got[2].as_ref().map(|i| i.id.as_str()),
            Some("sha256:todo-mcp:ccc")
        );
        assert_eq!(
            e.asked(),
            [
                "/v1.41/images/todo-frontend:aaa/json",
                "/v1.41/images/todo-backend:bbb/json",
                "/v1.41/images/todo-mcp:ccc/json"
            ]
        );
    }

    #[test]
    fn a_daemon_with_another_api_version_is_asked_in_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (sock, e) = engine(dir.path(), "1.44", &[("todo-backend:bbb", 5)]);
        let got = ask(&sock, &["todo-backend:bbb".to_string()]).unwrap();
        assert_eq!(got[0].as_ref().and_then(|i| i.size), Some(5));
        assert_eq!(
            e.asked(),
            [
                "/v1.41/images/todo-backend:bbb/json",
                "/v1.44/images/todo-backend:bbb/json"
            ]
        );
    }

    #[test]
    fn odd_names_and_dead_sockets_are_errors_for_the_cli_to_answer() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ask(&dir.path().join("none.sock"), &["a:b".into()]).is_err());
        let (sock, _e) = engine(dir.path(), "1.41", &[]);
        let err = ask(&sock, &["a b:c".into()]).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a plain image reference"),
            "{err:#}"
        );
    }
}
