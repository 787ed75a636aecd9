//! The xtask's one HTTP/1.1 client, for every use: health checks and smoke tests against our
//! own servers (loopback, a port-forward, the minikube IP, a registry on this machine), the
//! bench's keep-alive load runs, and the Docker Engine API over its Unix socket.
//!
//! It is small on purpose and the project's decision is to keep it the only one: everything
//! it talks to is local, so plain `http://` over TCP or a Unix socket is all it needs, and an
//! HTTP crate with a TLS stack would only slow the first build. A new need is added here.
//!
//! [`request`] and [`get`] are one-shot (`Connection: close`). [`Conn`] keeps a connection
//! open: responses are framed by `Content-Length` or chunked encoding, so several requests
//! can share it, one after the other or pipelined (all written, then all read).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The most header bytes an answer may have before it is refused (a server that never ends
/// its header must not grow our memory).
const MAX_HEAD: usize = 64 * 1024;

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

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `host:port`.
    Tcp(String),
    /// A Unix socket (the Docker daemon's).
    Unix(PathBuf),
}

impl Endpoint {
    /// Splits `http://host[:port]/path` into the endpoint (port 80 by default), the authority
    /// (the `Host` header) and the path.
    pub fn from_url(url: &str) -> Result<(Endpoint, String, String)> {
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
        Ok((Endpoint::Tcp(addr), authority.to_string(), path.to_string()))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "http://{a}"),
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// One request, written by [`Conn::write`].
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The request target: `/path?query`.
    pub path: &'a str,
    /// Extra headers; a `Host` here replaces the connection's (a virtual host).
    pub headers: &'a [(&'a str, &'a str)],
    /// Sent with `Content-Length`, and `Content-Type: application/json` unless a header names
    /// another type.
    pub body: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str) -> Self {
        Request {
            method: "GET",
            path,
            headers: &[],
            body: None,
        }
    }

    /// The bytes on the wire; `close` asks the server to close the connection after answering.
    pub fn encode(&self, host: &str, close: bool) -> Vec<u8> {
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        let mut req = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if !has("host") {
            req.push_str(&format!("Host: {host}\r\n"));
        }
        for (k, v) in self.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            req.push_str("Connection: close\r\n");
        }
        req.push_str("User-Agent: cargo-xtask\r\n");
        if let Some(b) = self.body {
            if !has("content-type") {
                req.push_str("Content-Type: application/json\r\n");
            }
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        if let Some(b) = self.body {
            req.push_str(b);
        }
        req.into_bytes()
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// An open connection to one server.
pub struct Conn {
    stream: Stream,
    endpoint: Endpoint,
    /// The `Host` header (the URL's authority; `localhost` on a Unix socket).
    host: String,
    /// Bytes read from the stream that no response has consumed yet.
    buf: Vec<u8>,
    /// The server keeps the connection open after its last answer.
    reusable: bool,
    timeout: Duration,
}

impl Conn {
    /// Connects, with `timeout` for the connection and for each read and write after it.
    pub fn open(endpoint: &Endpoint, host: &str, timeout: Duration) -> Result<Conn> {
        let stream = match endpoint {
            Endpoint::Tcp(addr) => {
                let sock = addr
                    .to_socket_addrs()
                    .with_context(|| format!("resolving {addr}"))?
                    .next()
                    .with_context(|| format!("{addr} has no address"))?;
                let s = TcpStream::connect_timeout(&sock, timeout)
                    .with_context(|| format!("connecting to {endpoint}"))?;
                // Small requests and answers: waiting to coalesce them only adds latency.
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                Stream::Tcp(s)
            }
            Endpoint::Unix(path) => {
                let s = UnixStream::connect(path)
                    .with_context(|| format!("connecting to {endpoint}"))?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                Stream::Unix(s)
            }
        };
        Ok(Conn {
            stream,
            endpoint: endpoint.clone(),
            host: host.to_string(),
            buf: Vec::new(),
            reusable: true,
            timeout,
        })
    }

    /// Whether the server left the connection open for another request.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// Writes one request (keep-alive unless `close`).
    pub fn write(&mut self, req: &Request, close: bool) -> Result<()> {
        self.write_bytes(&req.encode(&self.host, close))
            .with_context(|| format!("sending {} {}", req.method, req.path))
    }

    /// Writes requests serialised beforehand ([`Request::encode`]), e.g. one per round of
    /// a load run.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Pipelining: every request written at once, then every answer read, in order (one
    /// round trip for all of them).
    pub fn pipeline(&mut self, reqs: &[Request]) -> Result<Vec<Response>> {
        let mut bytes = Vec::new();
        for r in reqs {
            bytes.extend(r.encode(&self.host, false));
        }
        self.write_bytes(&bytes)
            .with_context(|| format!("sending {} requests to {}", reqs.len(), self.endpoint))?;
        reqs.iter().map(|r| self.read(r.method)).collect()
    }

    /// Reads the next answer; `method` tells whether it has a body (`HEAD` has none).
    pub fn read(&mut self, method: &str) -> Result<Response> {
        let deadline = Instant::now() + self.timeout;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_HEAD {
                bail!(
                    "{}: the answer's header is over {MAX_HEAD} bytes",
                    self.endpoint
                );
            }
            if self.fill(deadline)? == 0 {
                if self.buf.is_empty() {
                    bail!("{}: the connection closed before an answer", self.endpoint);
                }
                bail!(
                    "{}: the connection closed inside the answer's header",
                    self.endpoint
                );
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.split_whitespace();
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|_| version.starts_with("HTTP/"))
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let value = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let connection = value("connection").unwrap_or_default();
        self.reusable = if version == "HTTP/1.0" {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        };
        let no_body = method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&status)
            || status == 204
            || status == 304;
        let body = if no_body {
            Vec::new()
        } else if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            self.read_chunked(deadline)?
        } else if let Some(len) = value("content-length") {
            let len: usize = len
                .trim()
                .parse()
                .with_context(|| format!("bad Content-Length {len:?}"))?;
            self.read_exact(len, deadline)?
        } else {
            // Delimited by the end of the connection, which then cannot carry another.
            self.reusable = false;
            while self.fill(deadline)? > 0 {}
            std::mem::take(&mut self.buf)
        };
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Reads more bytes into the buffer; 0 at the end of the stream.
    fn fill(&mut self, deadline: Instant) -> Result<usize> {
        if Instant::now() > deadline {
            bail!(
                "{}: no complete answer within {}s",
                self.endpoint,
                self.timeout.as_secs()
            );
        }
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                bail!(
                    "{}: no complete answer within {}s",
                    self.endpoint,
                    self.timeout.as_secs()
                )
            }
            Err(e) => Err(e).with_context(|| format!("reading an answer from {}", self.endpoint)),
        }
    }

    fn read_exact(&mut self, len: usize, deadline: Instant) -> Result<Vec<u8>> {
        while self.buf.len() < len {
            if self.fill(deadline)? == 0 {
                bail!(
                    "{}: the connection closed after {} of {len} body bytes",
                    self.endpoint,
                    self.buf.len()
                );
            }
        }
        // The body whole, not byte by byte: the bench reads thousands of 9 KB task lists
        // through here, and an element-wise copy in the (unoptimised) xtask cost more per
        // response than the server it measures.
        let rest = self.buf.split_off(len);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    fn read_line(&mut self, deadline: Instant) -> Result<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                bail!("{}: a chunk header is over {MAX_HEAD} bytes", self.endpoint);
            }
            if self.fill(deadline)? == 0 {
                bail!("{}: truncated chunked body", self.endpoint);
            }
        }
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let line = self.read_line(deadline)?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .with_context(|| format!("bad chunk size {line:?}"))?;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                while !self.read_line(deadline)?.is_empty() {}
                return Ok(out);
            }
            out.extend(self.read_exact(size, deadline)?);
            if !self.read_line(deadline)?.is_empty() {
                bail!("{}: a chunk does not end with CRLF", self.endpoint);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One request on a connection of its own. `headers` may include `Host` to address a
/// virtual host (the ingress).
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    timeout: Duration,
) -> Result<Response> {
    let (endpoint, authority, path) = Endpoint::from_url(url)?;
    let mut conn = Conn::open(&endpoint, &authority, timeout)
        .with_context(|| format!("connecting to {url}"))?;
    let req = Request {
        method,
        path: &path,
        headers,
        body,
    };
    conn.write(&req, true)
        .with_context(|| format!("sending {method} {url}"))?;
    conn.read(method).with_context(|| format!("{method} {url}"))
}

pub fn get(url: &str, timeout: Duration) -> Result<Response> {
    request("GET", url, &[], None, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;

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
            sent.contains("Content-Length: 2\r\n")
                && sent.contains("Connection: close\r\n")
                && sent.ends_with("\r\n\r\n{}"),
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
    fn a_body_without_length_runs_to_the_end_of_the_connection() {
        let (url, _h) = serve_once("HTTP/1.0 200 OK\r\n\r\nall of it");
        assert_eq!(get(&url, Duration::from_secs(5)).unwrap().body, "all of it");
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

    #[test]
    fn a_server_that_never_answers_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/slow", l.local_addr().unwrap());
        let _h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(s);
        });
        let err = get(&url, Duration::from_millis(300)).unwrap_err();
        assert!(format!("{err:#}").contains("no complete answer"), "{err:#}");
    }

    /// Answers every request on each connection it accepts with a numbered body, chunked
    /// for odd numbers, until the client closes; counts the connections.
    fn keep_alive_server(
        listener: impl Fn() -> Option<Box<dyn ReadWrite>> + Send + 'static,
    ) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            while let Some(mut s) = listener() {
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut pending = Vec::new();
                    let mut n = 0;
                    let mut buf = [0u8; 4096];
                    loop {
                        while let Some(i) = find(&pending, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&pending[..i]).into_owned();
                            pending.drain(..i + 4);
                            n += 1;
                            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                            let body = format!("{path} #{n}");
                            let answer = if n % 2 == 1 {
                                format!(
                                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                                    body.len()
                                )
                            } else {
                                format!(
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                    body.len()
                                )
                            };
                            if s.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => pending.extend_from_slice(&buf[..k]),
                        }
                    }
                });
            }
        });
        accepted
    }

    trait ReadWrite: Read + Write + Send {}
    impl<T: Read + Write + Send> ReadWrite for T {}

    #[test]
    fn one_connection_carries_many_requests_in_turn_and_pipelined() {
        use std::sync::atomic::Ordering;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let accepted = keep_alive_server(move || {
            l.accept()
                .ok()
                .map(|(s, _)| Box::new(s) as Box<dyn ReadWrite>)
        });
        let mut c =
            Conn::open(&Endpoint::Tcp(addr.clone()), &addr, Duration::from_secs(5)).unwrap();
        for i in 1..=3 {
            c.write(&Request::get("/a"), false).unwrap();
            let r = c.read("GET").unwrap();
            assert_eq!(r.body, format!("/a #{i}"));
            assert!(c.reusable());
        }
        let got = c
            .pipeline(&[Request::get("/b"), Request::get("/c"), Request::get("/d")])
            .unwrap();
        let bodies: Vec<_> = got.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, ["/b #4", "/c #5", "/d #6"]);
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
    }

    #[test]
    fn a_unix_socket_server_is_reached_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let l = UnixListener::bind(&path).unwrap();
        keep_alive_server(move || {
            l.accept()
                .ok()
                .map(|(s, _)| Box::new(s) as Box<dyn ReadWrite>)
        });
        let mut c = Conn::open(
            &Endpoint::Unix(path.clone()),
            "localhost",
            Duration::from_secs(5),
        )
        .unwrap();
        let got = c
            .pipeline(&[
                Request::get("/images/a/json"),
                Request::get("/images/b/json"),
            ])
            .unwrap();
        assert_eq!(got[0].body, "/images/a/json #1");
        assert_eq!(got[1].body, "/images/b/json #2");
        // A socket nobody serves is an error naming it.
        let err = Conn::open(
            &Endpoint::Unix(dir.path().join("absent.sock")),
            "localhost",
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(format!("{err:#}").contains("absent.sock"), "{err:#}");
    }

    #[test]
    fn connection_close_and_no_body_statuses_are_honoured() {
        let (url, _h) = serve_once("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        let (endpoint, host, _) = Endpoint::from_url(&url).unwrap();
        let mut c = Conn::open(&endpoint, &host, Duration::from_secs(5)).unwrap();
        c.write(&Request::get("/"), false).unwrap();
        let r = c.read("GET").unwrap();
        assert_eq!((r.status, r.body.as_str()), (204, ""));
        assert!(!c.reusable());
    }

    #[test]
    fn an_endless_header_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let _h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
            let line = format!("X: {}\r\n", "a".repeat(1000));
            for _ in 0..100 {
                if s.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
        });
        let err = get(&url, Duration::from_secs(5)).unwrap_err();
        assert!(format!("{err:#}").contains("over 65536 bytes"), "{err:#}");
    }
}
