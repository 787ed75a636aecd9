//! A small HTTP/1.1 client over `std::net::TcpStream`, for health checks and smoke tests
//! against our own servers (loopback, a port-forward, the minikube IP). Plain `http://`
//! only: everything it talks to is local, so a TLS stack would only slow the first build.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `name=value` parts of every `Set-Cookie`, ready for a `Cookie` header.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next().map(|c| c.trim().to_string()))
            .collect()
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body).with_context(|| {
            format!(
                "expected JSON, got HTTP {}: {}",
                self.status,
                excerpt(&self.body)
            )
        })
    }
}

/// The first 300 characters of a body, for error messages.
pub fn excerpt(body: &str) -> String {
    let s: String = body.chars().take(300).collect();
    if s.len() < body.len() {
        format!("{s}…")
    } else {
        s
    }
}

/// One request. `headers` may include `Host` to address a virtual host (the ingress).
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    timeout: Duration,
) -> Result<Response> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let deadline = Instant::now() + timeout;
    let sock = addr
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)
        .with_context(|| format!("connecting to {url}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {authority}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\nUser-Agent: cargo-xtask\r\n");
    if let Some(b) = body {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream
        .write_all(req.as_bytes())
        .with_context(|| format!("sending {method} {url}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            bail!(
                "{method} {url}: no complete answer within {}s",
                timeout.as_secs()
            );
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                bail!(
                    "{method} {url}: no complete answer within {}s",
                    timeout.as_secs()
                )
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading the answer to {method} {url}"))
            }
        }
    }
    parse(&raw).with_context(|| format!("{method} {url}"))
}

pub fn get(url: &str, timeout: Duration) -> Result<Response> {
    request("GET", url, &[], None, timeout)
}

fn parse(raw: &[u8]) -> Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the answer has no HTTP header")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            s.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, h)
    }

    #[test]
    fn content_length_body_cookies_and_host_override() {
        let (url, h) = serve_once("HTTP/1.1 201 Created\r\nContent-Length: 11\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\n\r\n{\"ok\":true}");
        let r = request(
            "POST",
            &format!("{url}/x?y=1"),
            &[("Host", "todo.local")],
            Some("{}"),
            Duration::from_secs(5),
        )
        .unwrap();
        let sent = h.join().unwrap();
        assert!(
            sent.starts_with("POST /x?y=1 HTTP/1.1\r\nHost: todo.local\r\n"),
            "{sent}"
        );
        assert!(
            sent.contains("Content-Length: 2\r\n") && sent.ends_with("\r\n\r\n{}"),
            "{sent}"
        );
        assert_eq!(r.status, 201);
        assert_eq!(r.json().unwrap()["ok"], true);
        assert_eq!(r.cookies(), ["a=1", "b=2"]);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let (url, _h) = serve_once("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n");
        assert_eq!(get(&url, Duration::from_secs(5)).unwrap().body, "Wikipedia");
    }

    #[test]
    fn a_closed_port_is_an_error_naming_the_url() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = get(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_secs(2),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("127.0.0.1:{port}/health")),
            "{err:#}"
        );
    }
}
