//! Fake tools and a scratch workspace for running the xtask on a scenario, at one of two
//! levels:
//!
//! - [`Fake::xtask`] runs it in-process: the library's `run` with the scenario's environment
//!   map, its output captured, and every tool answered by the library's `ScriptedRunner`
//!   (no process at all). The default, for everything the scenario decides.
//! - [`Fake::xtask_process`] runs the real binary with the tools replaced by `fake-tool.sh`,
//!   for what only a process shows: timeouts and `@sleep` entries, process groups and pids
//!   left behind, secrets on a real stdin, the command logs under `target/xtask/logs`,
//!   variables clap or a real tool reads from the process environment, the xtask running
//!   itself or other real programs.
//!
//! Both answer from the same scenario (`rule`, `file`, `fixture`) and log to the same
//! `calls.log`, so `calls()` reads the same whichever level ran.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use xtask::process::scripted::ScriptedRunner;
use xtask::{Console, Env};

pub const TOOLS: [&str; 5] = ["docker", "minikube", "kubectl", "helm", "kind"];

pub struct Fake {
    pub dir: tempfile::TempDir,
    /// The repository the xtask works on (`XTASK_ROOT`).
    pub root: PathBuf,
    env: Vec<(String, String)>,
    unset: Vec<String>,
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools")
}

impl Fake {
    /// Fakes for every tool, no rules yet (every call fails with exit 97 until a rule exists).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(dir.path().join("scenario")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fake-tool.sh");
        let mut env = Vec::new();
        for t in TOOLS {
            std::os::unix::fs::symlink(&script, bin.join(t)).unwrap();
            env.push((
                format!("XTASK_{}", t.to_uppercase()),
                bin.join(t).display().to_string(),
            ));
        }
        // minikube's root check: a regular user unless a test says otherwise (the machine
        // running the tests may well be root).
        env.push(("XTASK_EUID".into(), "1000".into()));
        // The fakes answer the docker CLI; the Engine API would reach this machine's real
        // daemon over its socket. A test that wants the API serves a socket of its own.
        env.push(("XTASK_DOCKER_API".into(), "0".into()));
        // No Helm 3 beside the default unless a test asks for one.
        env.push((
            "XTASK_HELM3".into(),
            dir.path().join("absent/helm3").display().to_string(),
        ));
        let root = dir.path().join("repo");
        fs::create_dir_all(&root).unwrap();
        Fake {
            dir,
            root,
            env,
            unset: Vec::new(),
        }
    }

    pub fn scenario(&self) -> PathBuf {
        self.dir.path().join("scenario")
    }

    /// Write a file the rules can name.
    pub fn file(&self, name: &str, contents: &str) -> &Self {
        fs::write(self.scenario().join(name), contents).unwrap();
        self
    }

    /// Copy a captured tool output from `tests/fixtures/tools`.
    pub fn fixture(&self, name: &str) -> &Self {
        fs::copy(fixtures().join(name), self.scenario().join(name)).unwrap();
        self
    }

    /// `tool` answers calls whose arguments match `glob` with `code` and the files `outs`.
    pub fn rule(&self, tool: &str, glob: &str, code: i32, outs: &str) -> &Self {
        self.rule_err(tool, glob, code, outs, "-")
    }

    /// A rule that wins over every rule written before it (rules match first to last).
    pub fn rule_first(&self, tool: &str, glob: &str, code: i32, outs: &str) -> &Self {
        let path = self.scenario().join(format!("{tool}.rules"));
        let rest = fs::read_to_string(&path).unwrap_or_default();
        fs::write(&path, format!("{glob}\t{code}\t{outs}\t-\n{rest}")).unwrap();
        self
    }

    pub fn rule_err(&self, tool: &str, glob: &str, code: i32, outs: &str, err: &str) -> &Self {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.scenario().join(format!("{tool}.rules")))
            .unwrap();
        writeln!(f, "{glob}\t{code}\t{outs}\t{err}").unwrap();
        self
    }

    /// Make `tool` look absent.
    pub fn missing(&mut self, tool: &str) -> &mut Self {
        let var = format!("XTASK_{}", tool.to_uppercase());
        let nowhere = self
            .dir
            .path()
            .join("absent")
            .join(tool)
            .display()
            .to_string();
        self.env.retain(|(k, _)| k != &var);
        self.env.push((var, nowhere));
        self
    }

    /// Remove a variable the harness (or the caller's environment) would set.
    pub fn unset_env(&mut self, k: &str) -> &mut Self {
        self.env.retain(|(x, _)| x != k);
        self.unset.push(k.into());
        self
    }

    pub fn set_env(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.retain(|(x, _)| x != k);
        self.env.push((k.into(), v.into()));
        self
    }

    /// Everything `doctor` asks, answered as by a healthy machine with a running profile.
    pub fn healthy(&self) -> &Self {
        for f in [
            "docker-version.json",
            "minikube-version.json",
            "minikube-profile-list.json",
            "minikube-status-running.json",
            "minikube-addons-list.json",
            "minikube-docker-env.txt",
            "kubectl-version-client.json",
            "helm4-version.txt",
        ] {
            self.fixture(f);
        }
        self.file("kubectl-version-server.json", r#"{"clientVersion":{"gitVersion":"v1.33.9"},"serverVersion":{"gitVersion":"v1.31.0"}}"#);
        self.file("minikube-ip.txt", "192.168.49.2\n");
        self.rule("docker", "version --format*", 0, "docker-version.json")
            .rule("minikube", "version -o json", 0, "minikube-version.json")
            .rule(
                "minikube",
                "profile list -o json",
                0,
                "minikube-profile-list.json",
            )
            .rule(
                "minikube",
                "-p minikube status -o json",
                0,
                "minikube-status-running.json",
            )
            .rule(
                "minikube",
                "-p minikube addons list -o json",
                0,
                "minikube-addons-list.json",
            )
            .rule(
                "minikube",
                "-p minikube docker-env --shell none",
                0,
                "minikube-docker-env.txt",
            )
            .rule("minikube", "-p minikube ip", 0, "minikube-ip.txt")
            .rule(
                "kubectl",
                "version --client -o json",
                0,
                "kubectl-version-client.json",
            )
            .rule(
                "kubectl",
                "--context minikube version -o json*",
                0,
                "kubectl-version-server.json",
            )
            .rule("helm", "version --template*", 0, "helm4-version.txt")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.args(args).current_dir(self.dir.path());
        for k in [
            "DOCKER_HOST",
            "MINIKUBE_ACTIVE_DOCKERD",
            "XTASK_BASE_PYTHON",
            "XTASK_BASE_NODE",
            "XTASK_MINIKUBE_PROFILE",
            "XTASK_CONTEXT",
            "XTASK_REGISTRY",
            "XTASK_INGRESS_ADDR",
            "CI",
            "GITHUB_STEP_SUMMARY",
        ] {
            c.env_remove(k);
        }
        c.env("FAKE_LOG", self.dir.path().join("calls.log"))
            .env("FAKE_SCENARIO", self.scenario())
            .env("XTASK_ROOT", &self.root)
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for k in &self.unset {
            c.env_remove(k);
        }
        c
    }

    /// Runs the xtask in-process on the scenario (see the module's documentation).
    pub fn xtask(&self, args: &[&str]) -> Run {
        let env = self.env_map();
        let out = Buffer::default();
        let err = Buffer::default();
        let console = Arc::new(Console::capture(out.clone(), err.clone()));
        let runner = ScriptedRunner::new(
            self.dir.path().join("bin"),
            self.scenario(),
            self.dir.path().join("calls.log"),
            env.clone(),
            console.clone(),
        );
        let refused = runner.refusals();
        let argv = std::iter::once("xtask").chain(args.iter().copied());
        let code = xtask::run(argv, env, Box::new(runner), console);
        let refused = refused.lock().unwrap();
        assert!(
            refused.is_empty(),
            "this run needs a real process: use Fake::xtask_process\n{}",
            refused.join("\n")
        );
        Run {
            code: code.into(),
            stdout: out.text(),
            stderr: err.text(),
        }
    }

    /// Runs the real binary with `fake-tool.sh` as every tool: for what only a process shows
    /// (see the module's documentation).
    pub fn xtask_process(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run::from(out)
    }

    /// The environment of an in-process run: the scenario's variables only, plus PATH and
    /// HOME as the process would inherit them (tools not faked are looked up there).
    fn env_map(&self) -> Env {
        let mut env = Env::default();
        for k in ["PATH", "HOME"] {
            if let Ok(v) = std::env::var(k) {
                env.set(k, v);
            }
        }
        env.set("XTASK_ROOT", self.root.display().to_string());
        env.set("NO_COLOR", "1");
        for (k, v) in &self.env {
            env.set(k, v);
        }
        for k in &self.unset {
            env.remove(k);
        }
        env
    }

    /// The calls the fakes saw, one line each.
    pub fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The calls that start with `prefix` (`"docker build"`, `"helm "`), in order.
    pub fn calls_starting(&self, prefix: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect()
    }

    /// Write a file into the fixture repository.
    pub fn repo_file(&self, rel: &str, contents: &str) -> &Self {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, contents).unwrap();
        self
    }
}

/// What an in-process run printed on one stream.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts that stderr (what a user reads) contains `text`, showing the whole run if not.
    #[track_caller]
    pub fn says(&self, text: impl AsRef<str>) {
        assert!(
            self.stderr.contains(text.as_ref()),
            "expected {:?} in stderr:\n{self:?}",
            text.as_ref()
        );
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Compare against `tests/it/snapshots/<name>.txt`; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(
        expected, actual,
        "snapshot {name} differs; if the change is intended, run with UPDATE_SNAPSHOTS=1"
    );
}
