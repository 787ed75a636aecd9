//! The one place that spawns processes.
//!
//! Every external command is a [`Cmd`] value: program, arguments, environment, working
//! directory, timeout and how its output is handled. Tasks build those values through the
//! typed wrappers in `tools/` and hand them to a [`Runner`]. The real runner enforces the
//! timeout, kills the whole process group on timeout or Ctrl-C, keeps a tail of the output for
//! error messages and writes the full log under `target/xtask/logs/`. Tests swap in the
//! [`scripted::ScriptedRunner`], which answers from a scenario's files without a process.
//!
//! Secrets: an argument, environment value or stdin marked secret is registered once and
//! replaced by `***` in everything this module prints or writes (echo, `--dry-run`, logs,
//! error tails), including the output of the command itself; so is its base64 form (how a
//! Secret's `data` prints).
//!
//! Redaction only hides what the xtask knows. A command whose output may hold secrets it does
//! not know (a release's values or manifest, a Secret object) is marked
//! [`Cmd::sensitive_output`]: its stdout goes to the caller and nowhere else — not to the log,
//! the terminal, error tails or failure messages, which say `(output withheld: may hold
//! secrets)` instead. Its stderr (errors) is handled as usual, redacted.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// Lines of output kept for error messages.
const TAIL_LINES: usize = 40;

/// How a command's output is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Collected (and logged); nothing printed.
    Capture,
    /// Collected, logged, and each line passed to the command's line callback (progress), or
    /// printed to stderr when it has none.
    Stream,
    /// The child writes straight to our terminal (interactive commands such as `logs -f`).
    Inherit,
}

/// One argument or value that may be secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub secret: bool,
}

type LineFn = Arc<dyn Fn(&str) + Send + Sync>;

/// An external command as a value.
#[derive(Clone)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<Value>,
    pub env: Vec<(String, Value)>,
    pub cwd: Option<PathBuf>,
    pub timeout: Duration,
    pub output: Output,
    pub stdin: Option<Value>,
    /// Whether running it changes something. `--dry-run` prints mutating commands instead of
    /// running them; read-only queries still run so the plan is accurate.
    pub mutates: bool,
    pub on_line: Option<LineFn>,
    /// Its stdout may hold secrets the xtask does not know: never logged, printed or quoted.
    pub sensitive: bool,
    /// Variables of our own environment the command must not inherit.
    pub unset_env: Vec<String>,
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout: Duration::from_secs(60),
            output: Output::Capture,
            stdin: None,
            mutates: false,
            on_line: None,
            sensitive: false,
            unset_env: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(Value {
            text: a.into(),
            secret: false,
        });
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((
            k.into(),
            Value {
                text: v.into(),
                secret: false,
            },
        ));
        self
    }

    pub fn secret_env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        let v = v.into();
        register_secret(&v);
        self.env.push((
            k.into(),
            Value {
                text: v,
                secret: true,
            },
        ));
        self
    }

    /// Run without `k` even when our environment has it (a debug switch that would make
    /// the tool print more than the caller wants). Not shown by [`Cmd::display`].
    pub fn env_remove(mut self, k: impl Into<String>) -> Self {
        self.unset_env.push(k.into());
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn output(mut self, o: Output) -> Self {
        self.output = o;
        self
    }

    pub fn stdin_secret(mut self, text: String) -> Self {
        register_secret(&text);
        self.stdin = Some(Value { text, secret: true });
        self
    }

    pub fn mutating(mut self) -> Self {
        self.mutates = true;
        self
    }

    pub fn on_line(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_line = Some(Arc::new(f));
        self
    }

    /// Its stdout may hold secrets the xtask does not know (`helm status -o json` and
    /// `helm get values|manifest|all` print the release's values and manifest, `kubectl get
    /// secret -o json` a Secret's data): the caller still gets it, but the runner never writes
    /// it to the log, never streams or echoes it, and error tails and failure messages say
    /// [`WITHHELD`] in its place. The command line itself is shown as usual (redacted).
    pub fn sensitive_output(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// The short program name (`docker`, not `/usr/bin/docker`), for messages and snapshots.
    pub fn name(&self) -> &str {
        Path::new(&self.program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.program)
    }

    /// The command line as a user could paste it, secrets replaced by `***`.
    pub fn display(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in &self.env {
            // Only variables that matter to a reader: minikube's docker-env and ours.
            let shown = if v.secret {
                "***".to_string()
            } else {
                shell_quote(&redact(&v.text))
            };
            parts.push(format!("{k}={shown}"));
        }
        parts.push(self.name().to_string());
        // Any registered secret is hidden wherever it appears, not only in marked values.
        for a in &self.args {
            parts.push(shell_quote(&redact(&a.text)));
        }
        parts.join(" ")
    }

    /// `name arg arg` without env, secrets redacted: what unit tests compare.
    #[cfg(test)]
    pub fn argv_line(&self) -> String {
        let mut s = self.name().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&redact(&a.text));
        }
        s
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%^".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What error tails, failure messages and logs show instead of a sensitive command's stdout.
pub const WITHHELD: &str = "(output withheld: may hold secrets)";

/// What a finished command left behind.
#[derive(Clone, Default)]
pub struct Outcome {
    /// Exit code; `None` when killed by a signal (including our own timeout kill).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub log: Option<PathBuf>,
    pub duration: Duration,
    /// The command was [`Cmd::sensitive_output`]: `stdout` is for the caller only.
    pub withheld: bool,
}

impl fmt::Debug for Outcome {
    /// Never the raw output: `{:?}` ends up in panics and error chains.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("code", &self.code)
            .field("stdout", &self.shown_stdout())
            .field("stderr", &redact(&self.stderr))
            .field("log", &self.log)
            .field("duration", &self.duration)
            .field("withheld", &self.withheld)
            .finish()
    }
}

impl Outcome {
    pub fn ok(stdout: impl Into<String>) -> Self {
        Outcome {
            code: Some(0),
            stdout: stdout.into(),
            ..Default::default()
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last lines of combined output, redacted, for an error message; a sensitive
    /// command's stdout is one line saying it was withheld.
    pub fn tail(&self, n: usize) -> String {
        let out = self.shown_stdout();
        let all: Vec<&str> = out.lines().chain(self.stderr.lines()).collect();
        let start = all.len().saturating_sub(n);
        redact(&all[start..].join("\n"))
    }

    /// stdout as it may be shown or written anywhere: redacted, or [`WITHHELD`].
    pub fn shown_stdout(&self) -> String {
        if self.withheld {
            if self.stdout.is_empty() {
                String::new()
            } else {
                format!("{WITHHELD}\n")
            }
        } else {
            redact(&self.stdout)
        }
    }
}

/// A process started in the background (port-forward, dev servers).
pub trait Background: Send {
    fn pid(&self) -> u32;
    /// Still running?
    fn alive(&mut self) -> bool;
    /// Stop the whole process group (SIGTERM, then SIGKILL after a grace period).
    fn stop(&mut self);
    /// The output collected so far (redacted).
    fn output(&self) -> String;
}

/// Runs commands. The real one spawns processes; tests record and replay.
pub trait Runner: Send + Sync {
    fn run(&self, cmd: &Cmd) -> Result<Outcome>;
    fn spawn(&self, cmd: &Cmd) -> Result<Box<dyn Background>>;
}

// ---------------------------------------------------------------------------------------
// Secrets

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember a value that must never be printed, and its base64 form (a Secret's `data`, a
/// basic-auth header). Short values are ignored: redacting "1" everywhere would garble
/// output, and no real secret is that short.
pub fn register_secret(s: &str) {
    if s.len() < 6 {
        return;
    }
    let mut all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    for form in [s.to_string(), base64(s.as_bytes())] {
        if !all.contains(&form) {
            all.push(form);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    all.sort_by_key(|x| std::cmp::Reverse(x.len()));
}

/// Standard base64 with padding, as `kubectl get secret -o json` prints `data`.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Replace every registered secret in `text` by `***`.
pub fn redact(text: &str) -> String {
    let all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Interruption

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Install the Ctrl-C / SIGTERM handler once. Children run in their own process groups (so a
/// terminal's Ctrl-C does not reach them half-way); the runner notices the flag and stops
/// each group it started.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: the user means it.
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping child processes…");
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn kill_group(pid: u32, signal: i32) {
    // SAFETY: killpg only sends a signal; a stale pid yields ESRCH, which we ignore.
    unsafe {
        libc::killpg(pid as libc::pid_t, signal);
    }
}

// ---------------------------------------------------------------------------------------
// The real runner

pub struct RealRunner {
    log_dir: PathBuf,
    seq: AtomicUsize,
}

impl RealRunner {
    pub fn new(log_dir: PathBuf) -> Self {
        RealRunner {
            log_dir,
            seq: AtomicUsize::new(0),
        }
    }

    fn open_log(&self, cmd: &Cmd) -> Option<(PathBuf, fs::File)> {
        fs::create_dir_all(&self.log_dir).ok()?;
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let sub = cmd.args.first().map(|a| a.text.as_str()).unwrap_or("");
        let sub: String = sub
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect();
        let path = self.log_dir.join(format!(
            "{}-{:03}-{}-{}.log",
            std::process::id(),
            n,
            cmd.name(),
            sub
        ));
        let mut f = fs::File::create(&path).ok()?;
        let _ = writeln!(f, "$ {}", cmd.display());
        Some((path, f))
    }

    fn command(cmd: &Cmd) -> Command {
        let mut c = Command::new(&cmd.program);
        c.args(cmd.args.iter().map(|a| OsString::from(&a.text)));
        for k in &cmd.unset_env {
            c.env_remove(k);
        }
        for (k, v) in &cmd.env {
            c.env(k, &v.text);
        }
        if let Some(dir) = &cmd.cwd {
            c.current_dir(dir);
        }
        // Own process group: a timeout or Ctrl-C stops the command and everything it started.
        c.process_group(0);
        c
    }
}

fn spawn_error(cmd: &Cmd, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "`{}` was not found (looked for `{}`); run `cargo xtask doctor` for how to install it",
            cmd.name(),
            cmd.program
        )
    } else {
        anyhow::anyhow!("could not start `{}`: {e}", cmd.display())
    }
}

/// Collects a stream line by line into a buffer, the log file and the callback.
fn pump(
    src: impl Read + Send + 'static,
    buf: Arc<Mutex<String>>,
    log: Option<Arc<Mutex<fs::File>>>,
    echo: Option<LineFn>,
    print: bool,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(src);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            {
                let mut all = buf.lock().unwrap_or_else(|e| e.into_inner());
                all.push_str(line);
                all.push('\n');
            }
            let shown = redact(line);
            if let Some(f) = &log {
                let _ = writeln!(f.lock().unwrap_or_else(|e| e.into_inner()), "{shown}");
            }
            if let Some(cb) = &echo {
                cb(&shown);
            } else if print {
                eprintln!("{shown}");
            }
        }
    })
}

impl Runner for RealRunner {
    fn run(&self, cmd: &Cmd) -> Result<Outcome> {
        let started = Instant::now();
        let log = self.open_log(cmd);
        let mut c = Self::command(cmd);
        // A sensitive command never gets the terminal: its stdout is piped to us and kept.
        let inherit = cmd.output == Output::Inherit && !cmd.sensitive;
        if inherit {
            c.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        } else {
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        c.stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else if inherit {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        let mut child = c.spawn().map_err(|e| spawn_error(cmd, e))?;
        let pid = child.id();
        if let (Some(input), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
            let text = input.text.clone();
            thread::spawn(move || {
                let _ = stdin.write_all(text.as_bytes());
            });
        }
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let log_file = log
            .as_ref()
            .and_then(|(_, f)| f.try_clone().ok())
            .map(|f| Arc::new(Mutex::new(f)));
        let print = cmd.output == Output::Stream;
        let mut pumps = Vec::new();
        if let Some(s) = child.stdout.take() {
            pumps.push(if cmd.sensitive {
                // Collected for the caller only: no log, no progress callback, no echo.
                pump(s, out.clone(), None, None, false)
            } else {
                pump(
                    s,
                    out.clone(),
                    log_file.clone(),
                    cmd.on_line.clone().filter(|_| print),
                    print,
                )
            });
        }
        if let Some(s) = child.stderr.take() {
            pumps.push(pump(
                s,
                err.clone(),
                log_file.clone(),
                cmd.on_line.clone().filter(|_| print),
                print,
            ));
        }
        let (status, why) = wait_bounded(&mut child, pid, cmd.timeout);
        for p in pumps {
            let _ = p.join();
        }
        let outcome = Outcome {
            code: status.and_then(|s| s.code()),
            stdout: std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner())),
            stderr: std::mem::take(&mut *err.lock().unwrap_or_else(|e| e.into_inner())),
            log: log.map(|(p, _)| p),
            duration: started.elapsed(),
            withheld: cmd.sensitive,
        };
        if let (true, Some(f)) = (cmd.sensitive, &log_file) {
            let _ = writeln!(
                f.lock().unwrap_or_else(|e| e.into_inner()),
                "{WITHHELD}: {} bytes of stdout not logged",
                outcome.stdout.len()
            );
        }
        match why {
            Stop::Exited => Ok(outcome),
            Stop::TimedOut => bail!(
                "`{}` did not finish within {}s and was stopped{}\n{}",
                cmd.display(),
                cmd.timeout.as_secs(),
                log_hint(&outcome),
                outcome.tail(TAIL_LINES)
            ),
            Stop::Interrupted => bail!("interrupted while running `{}`", cmd.display()),
        }
    }

    fn spawn(&self, cmd: &Cmd) -> Result<Box<dyn Background>> {
        let log = self.open_log(cmd);
        let mut c = Self::command(cmd);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| spawn_error(cmd, e))?;
        let buf = Arc::new(Mutex::new(String::new()));
        let log_file = log
            .as_ref()
            .and_then(|(_, f)| f.try_clone().ok())
            .map(|f| Arc::new(Mutex::new(f)));
        let print = cmd.output == Output::Stream;
        if let Some(s) = child.stdout.take() {
            if cmd.sensitive {
                // Drained and dropped: a background command's output is only read for
                // messages (`output()`), and this one must not be in any.
                pump(s, Arc::new(Mutex::new(String::new())), None, None, false);
            } else {
                pump(s, buf.clone(), log_file.clone(), cmd.on_line.clone(), print);
            }
        }
        if let Some(s) = child.stderr.take() {
            pump(s, buf.clone(), log_file, cmd.on_line.clone(), print);
        }
        Ok(Box::new(RealBackground {
            child,
            buf,
            stopped: false,
        }))
    }
}

fn log_hint(o: &Outcome) -> String {
    o.log
        .as_ref()
        .map(|p| format!(" (full log: {})", p.display()))
        .unwrap_or_default()
}

enum Stop {
    Exited,
    TimedOut,
    Interrupted,
}

fn wait_bounded(child: &mut Child, pid: u32, timeout: Duration) -> (Option<ExitStatus>, Stop) {
    let started = Instant::now();
    let deadline = started + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return (Some(s), Stop::Exited),
            Ok(None) => {}
            Err(_) => return (None, Stop::Exited),
        }
        let why = if interrupted() {
            Stop::Interrupted
        } else if Instant::now() >= deadline {
            Stop::TimedOut
        } else {
            thread::sleep(poll_interval(started.elapsed()));
            continue;
        };
        terminate(child, pid);
        return (child.try_wait().ok().flatten(), why);
    }
}

/// How long to sleep between exit checks: fine while a command is young, so that a short one
/// is seen to end within a millisecond (what `bench` times is the command, not this loop),
/// coarser as it ages (a long build is checked 20 times a second).
fn poll_interval(age: Duration) -> Duration {
    if age < Duration::from_millis(100) {
        Duration::from_millis(1)
    } else if age < Duration::from_secs(2) {
        Duration::from_millis(5)
    } else {
        Duration::from_millis(50)
    }
}

fn terminate(child: &mut Child, pid: u32) {
    kill_group(pid, libc::SIGTERM);
    let grace = Instant::now() + Duration::from_secs(3);
    while Instant::now() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; make sure nothing it started lingers.
            kill_group(pid, libc::SIGKILL);
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    kill_group(pid, libc::SIGKILL);
    let _ = child.wait();
}

struct RealBackground {
    child: Child,
    buf: Arc<Mutex<String>>,
    stopped: bool,
}

impl Background for RealBackground {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let pid = self.child.id();
            terminate(&mut self.child, pid);
        }
    }

    fn output(&self) -> String {
        redact(&self.buf.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for RealBackground {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------
// The in-process fake (tests)

pub mod scripted;

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> (tempfile::TempDir, RealRunner) {
        let dir = tempfile::tempdir().unwrap();
        let r = RealRunner::new(dir.path().join("logs"));
        (dir, r)
    }

    #[test]
    fn captures_output_and_exit_code() {
        let (_d, r) = runner();
        let out = r
            .run(&Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        let log = fs::read_to_string(out.log.unwrap()).unwrap();
        assert!(log.contains("out") && log.contains("err"), "{log}");
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let (dir, r) = runner();
        let marker = dir.path().join("grandchild.pid");
        // The grandchild would outlive a plain kill of the shell.
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let err = r
            .run(
                &Cmd::new("sh")
                    .args(["-c", &script])
                    .timeout(Duration::from_millis(300)),
            )
            .unwrap_err();
        assert!(err.to_string().contains("did not finish within"), "{err}");
        let pid: i32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
        thread::sleep(Duration::from_millis(100));
        // Gone, or a zombie waiting for a reaper that is not ours: either way not running.
        let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .rsplit(')')
            .next()
            .map(|rest| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false);
        assert!(!running, "grandchild {pid} survived the timeout: {state}");
    }

    #[test]
    fn secrets_are_redacted_in_display_output_and_logs() {
        let (_d, r) = runner();
        let secret = "s3cr3t-value-that-must-not-leak";
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg("echo token=$TOKEN; echo \"$0\"; printf 'from stdin: '; cat")
            .secret_env("TOKEN", secret)
            // An ordinary argument that happens to hold a registered secret is hidden too.
            .arg(format!("--set=x={secret}"))
            .stdin_secret(secret.to_string());
        assert!(!cmd.display().contains(secret), "{}", cmd.display());
        assert!(cmd.display().contains("TOKEN=***"));
        let out = r.run(&cmd).unwrap();
        let log = fs::read_to_string(out.log.as_ref().unwrap()).unwrap();
        assert!(!log.contains(secret), "{log}");
        assert!(
            log.contains("token=***")
                && log.contains("--set=x=***")
                && log.contains("from stdin: ***"),
            "{log}"
        );
        assert!(!out.tail(5).contains(secret));
    }

    #[test]
    fn sensitive_output_reaches_the_caller_only() {
        let (_d, r) = runner();
        // Not registered anywhere: only withholding keeps it out of the log.
        let value = "cluster-only-value-9f8e7d6c5b4a";
        let streamed = Arc::new(Mutex::new(Vec::new()));
        let sink = streamed.clone();
        // Pieced together by the shell, so the command line (logged) does not hold it.
        let script =
            "a=cluster-only; echo \"config=$a-value-9f8e7d6c5b4a\"; echo 'Error: boom' >&2; exit 1";
        let cmd = Cmd::new("sh")
            .args(["-c", script])
            .output(Output::Stream)
            .on_line(move |l| sink.lock().unwrap().push(l.to_string()))
            .sensitive_output();
        let out = r.run(&cmd).unwrap();
        assert_eq!(
            out.stdout,
            format!("config={value}\n"),
            "the caller gets it"
        );
        let log = fs::read_to_string(out.log.as_ref().unwrap()).unwrap();
        assert!(!log.contains(value), "{log}");
        assert!(
            log.contains("$ sh -c") && log.contains("Error: boom"),
            "{log}"
        );
        assert!(log.contains(WITHHELD), "{log}");
        assert_eq!(*streamed.lock().unwrap(), vec!["Error: boom"]);
        let tail = out.tail(40);
        assert!(!tail.contains(value) && tail.contains(WITHHELD) && tail.contains("Error: boom"));
        assert!(!format!("{out:?}").contains(value));
        // Even a command that would have the terminal is captured instead.
        let echo = "a=cluster-only; echo \"$a-value-9f8e7d6c5b4a\"";
        let out = r
            .run(
                &Cmd::new("sh")
                    .args(["-c", echo])
                    .output(Output::Inherit)
                    .sensitive_output(),
            )
            .unwrap();
        assert_eq!(out.stdout.trim(), value);
        assert!(!fs::read_to_string(out.log.as_ref().unwrap())
            .unwrap()
            .contains(value));
        // An ordinary command is logged in full.
        let out = r.run(&Cmd::new("sh").args(["-c", echo])).unwrap();
        assert!(fs::read_to_string(out.log.as_ref().unwrap())
            .unwrap()
            .contains(value));
        assert!(!out.tail(5).contains(WITHHELD));
    }

    #[test]
    fn a_removed_variable_is_not_inherited() {
        let (_d, r) = runner();
        // One of our own variables (the shell sets PWD, SHLVL and `_` itself).
        let Some((k, _)) = std::env::vars().find(|(k, v)| {
            !v.is_empty()
                && !["PWD", "SHLVL", "_", "PATH", "IFS"].contains(&k.as_str())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) else {
            return;
        };
        let script = format!("echo \"[${{{k}:-unset}}]\"");
        let inherited = r.run(&Cmd::new("sh").args(["-c", &script])).unwrap();
        assert_ne!(inherited.stdout, "[unset]\n");
        let out = r
            .run(&Cmd::new("sh").args(["-c", &script]).env_remove(&k))
            .unwrap();
        assert_eq!(out.stdout, "[unset]\n");
    }

    #[test]
    fn the_base64_form_of_a_secret_is_redacted_too() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        register_secret("b64-secret-0123456789");
        // What `kubectl get secret -o json` prints for it.
        let shown = redact(r#"{"data":{"K":"YjY0LXNlY3JldC0wMTIzNDU2Nzg5"}}"#);
        assert_eq!(shown, r#"{"data":{"K":"***"}}"#);
    }

    #[test]
    fn missing_program_names_doctor() {
        let (_d, r) = runner();
        let err = r.run(&Cmd::new("definitely-not-a-tool-xyz")).unwrap_err();
        assert!(err.to_string().contains("cargo xtask doctor"), "{err}");
    }

    #[test]
    fn stream_passes_lines_to_the_callback() {
        let (_d, r) = runner();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let cmd = Cmd::new("sh")
            .args(["-c", "echo one; echo two"])
            .output(Output::Stream)
            .on_line(move |l| sink.lock().unwrap().push(l.to_string()));
        r.run(&cmd).unwrap();
        assert_eq!(*got.lock().unwrap(), vec!["one", "two"]);
    }

    #[test]
    fn background_stop_ends_the_group() {
        let (_d, r) = runner();
        let mut bg = r
            .spawn(&Cmd::new("sh").args(["-c", "echo ready; sleep 30"]))
            .unwrap();
        thread::sleep(Duration::from_millis(200));
        assert!(bg.alive());
        assert!(bg.output().contains("ready"));
        bg.stop();
        assert!(!bg.alive());
    }

    #[test]
    fn short_commands_are_seen_to_end_within_a_millisecond() {
        assert_eq!(poll_interval(Duration::ZERO), Duration::from_millis(1));
        assert_eq!(
            poll_interval(Duration::from_millis(99)),
            Duration::from_millis(1)
        );
        assert_eq!(
            poll_interval(Duration::from_millis(500)),
            Duration::from_millis(5)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(60)),
            Duration::from_millis(50)
        );
    }
}
