//! A stand-in Docker Engine on a Unix socket. The one copy: the integration tests use it as a
//! module, and `src/tools/docker_api.rs` includes this file in its unit tests (the xtask is a
//! binary crate, so neither side can import the other's test code).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

type Have = Arc<dyn Fn(&str) -> Option<u64> + Send + Sync>;

pub struct Engine {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Engine {
    /// Serves `socket` as a daemon speaking API version `speaks`: every pipelined
    /// `GET /v{speaks}/images/<name>/json` is answered from `have` (200 with the image's id
    /// and size, or 404); a path in another version gets the daemon's 400 naming `speaks`.
    pub fn serve(
        socket: &Path,
        speaks: &'static str,
        have: impl Fn(&str) -> Option<u64> + Send + Sync + 'static,
    ) -> Engine {
        let listener = UnixListener::bind(socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, have): (_, Have) = (seen.clone(), Arc::new(have));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(s) = conn else { return };
                let (log, have) = (log.clone(), have.clone());
                // A connection each: the client may open a second one while the first is open.
                std::thread::spawn(move || answer(s, speaks, &*have, &log));
            }
        });
        Engine { seen }
    }

    /// The paths asked so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(
    mut s: UnixStream,
    speaks: &str,
    have: &(dyn Fn(&str) -> Option<u64> + Send + Sync),
    log: &Mutex<Vec<String>>,
) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..i]).into_owned();
            pending.drain(..i + 4);
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(path.clone());
            let (status, body) = match path
                .strip_prefix(&format!("/v{speaks}/images/"))
                .and_then(|p| p.strip_suffix("/json"))
            {
                None => (
                    400,
                    format!(
                        r#"{{"message":"client version is too new. Maximum supported API version is {speaks}"}}"#
                    ),
                ),
                Some(name) => match have(name) {
                    Some(size) => (200, format!(r#"{{"Id":"sha256:{name}","Size":{size}}}"#)),
                    None => (404, format!(r#"{{"message":"No such image: {name}"}}"#)),
                },
            };
            let out = format!(
                "HTTP/1.1 {status} X\r\nApi-Version: {speaks}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if s.write_all(out.as_bytes()).is_err() {
                return;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}
