//! The in-process fake of every external tool, for tests: a [`Runner`] that answers from the
//! same scenario files as `tests/it/fake-tool.sh` (the fake that runs as a real process), so a
//! test's scenario reads the same whichever level runs it.
//!
//! Every call appends one line to the calls log: the tool's name and its arguments, plus
//! ` [DOCKER_HOST=…]` when the command's environment sets that variable. Values a command
//! reads from stdin (`helm … -f -`) are kept in `<scenario>/<tool>.stdin`.
//!
//! It answers from `<scenario>/<tool>.rules`, first matching line wins:
//! `<glob over the joined arguments> TAB <exit code> TAB <stdout files, comma-separated>
//! [TAB <stderr file>]`. The glob is bash's (`*`, `?`, `[...]`). A file list is consumed one
//! entry per call (state in `<scenario>/.state`, shared with the process fake); the last
//! entry repeats. `-` means no output; `<entry>|<code>` exits with `<code>` instead of the
//! rule's code. No matching rule: exit 97 with a message naming the call.
//!
//! What only a real process can do is refused with an error saying so, never imitated: a
//! program outside the fakes' directory, and `@sleep:N` entries (timeouts, port-forwards
//! that stay up, the process groups they leave behind). The refusals are also kept
//! ([`ScriptedRunner::refusals`]): a test whose run hit one must run the real binary, even
//! when the xtask took the error in its stride.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;

use super::{redact, spawn_error, Background, Cmd, Outcome, Output, Runner};
use crate::ctx::{Console, Env};

/// Answers commands from a scenario directory; see the module's documentation.
pub struct ScriptedRunner {
    /// The fake tools: programs in this directory are answered, named by their file name.
    bin: PathBuf,
    scenario: PathBuf,
    log: PathBuf,
    /// The environment a command inherits (the xtask's own), for `DOCKER_HOST`.
    env: Env,
    console: Arc<Console>,
    /// One call at a time: the log and the list state are read and written per call.
    lock: Mutex<()>,
    refused: Arc<Mutex<Vec<String>>>,
}

impl ScriptedRunner {
    pub fn new(
        bin: impl Into<PathBuf>,
        scenario: impl Into<PathBuf>,
        log: impl Into<PathBuf>,
        env: Env,
        console: Arc<Console>,
    ) -> Self {
        ScriptedRunner {
            bin: bin.into(),
            scenario: scenario.into(),
            log: log.into(),
            env,
            console,
            lock: Mutex::new(()),
            refused: Default::default(),
        }
    }

    /// What this runner refused to imitate, as it happens (a handle that outlives the runner
    /// handed to the xtask).
    pub fn refusals(&self) -> Arc<Mutex<Vec<String>>> {
        self.refused.clone()
    }

    fn refuse(&self, why: String) -> anyhow::Error {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(why.clone());
        anyhow::anyhow!(why)
    }

    /// What the fake prints and how it exits.
    fn answer(&self, cmd: &Cmd) -> Result<Answer> {
        let program = Path::new(&cmd.program);
        if !program.exists() {
            return Err(spawn_error(
                cmd,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        if program.parent() != Some(self.bin.as_path()) {
            return Err(self.refuse(format!(
                "the in-process fakes answer only the tools in {}; `{}` needs a real process \
                 (run this test through the fake-tool.sh path)",
                self.bin.display(),
                cmd.program
            )));
        }
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let name = cmd.name().to_string();
        let args: Vec<&str> = cmd.args.iter().map(|a| a.text.as_str()).collect();
        let joined = args.join(" ");
        let mut line = name.clone();
        for a in &args {
            line.push(' ');
            line.push_str(a);
        }
        if let Some(host) = self.docker_host(cmd).filter(|h| !h.is_empty()) {
            line.push_str(&format!(" [DOCKER_HOST={host}]"));
        }
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(f, "{line}")?;
        if format!(" {joined} ").contains(" -f - ") {
            let text = cmd.stdin.as_ref().map(|v| v.text.as_str()).unwrap_or("");
            fs::write(self.scenario.join(format!("{name}.stdin")), text)?;
        }
        let rules =
            fs::read_to_string(self.scenario.join(format!("{name}.rules"))).unwrap_or_default();
        for (n, rule) in rules.lines().enumerate() {
            let fields = fields(rule);
            let glob = fields.first().copied().unwrap_or("");
            if glob.is_empty() || glob.starts_with('#') || !glob_match(glob, &joined) {
                continue;
            }
            let mut code: i32 = fields.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            let outs = fields.get(2).copied().unwrap_or("");
            let state_dir = self.scenario.join(".state");
            fs::create_dir_all(&state_dir)?;
            let state = state_dir.join(format!("{name}.{}", n + 1));
            let i: usize = fs::read_to_string(&state)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            fs::write(&state, format!("{}\n", i + 1))?;
            let list: Vec<&str> = outs.split(',').collect();
            let mut out = list[i.min(list.len() - 1)];
            if let Some((entry, c)) = out.rsplit_once('|') {
                code = c.parse().unwrap_or(code);
                out = entry;
            }
            if out.contains("@sleep:") {
                return Err(self.refuse(format!(
                    "`{}`: the scenario's {out:?} needs a real process that stays up \
                     (run this test through the fake-tool.sh path)",
                    cmd.display()
                )));
            }
            let mut answer = Answer {
                code: code.rem_euclid(256),
                ..Default::default()
            };
            if out != "-" {
                self.cat(out, &mut answer.stdout, &mut answer.stderr);
            }
            if let Some(err) = fields.get(3).filter(|e| !e.is_empty() && **e != "-") {
                let mut into = String::new();
                self.cat(err, &mut into, &mut answer.stderr);
                answer.stderr.push_str(&into);
            }
            return Ok(answer);
        }
        Ok(Answer {
            code: 97,
            stdout: String::new(),
            stderr: format!("fake {name}: no scenario rule matches: {name} {joined}\n"),
        })
    }

    /// `cat "$FAKE_SCENARIO/<file>"`, its complaint included when the file is not there.
    fn cat(&self, file: &str, into: &mut String, errors: &mut String) {
        let path = self.scenario.join(file);
        match fs::read(&path) {
            Ok(bytes) => into.push_str(&String::from_utf8_lossy(&bytes)),
            Err(_) => errors.push_str(&format!(
                "cat: {}: No such file or directory\n",
                path.display()
            )),
        }
    }

    /// `DOCKER_HOST` as the command would see it: its own, else the one it inherits.
    fn docker_host(&self, cmd: &Cmd) -> Option<String> {
        if let Some((_, v)) = cmd.env.iter().rev().find(|(k, _)| k == "DOCKER_HOST") {
            return Some(v.text.clone());
        }
        if cmd.unset_env.iter().any(|k| k == "DOCKER_HOST") {
            return None;
        }
        self.env.get("DOCKER_HOST").map(str::to_string)
    }
}

/// `IFS=$'\t' read -r glob code outs errf`: runs of tabs separate, the last field takes
/// the rest of the line.
fn fields(rule: &str) -> Vec<&str> {
    let mut rest = rule.trim_matches('\t');
    let mut out = Vec::new();
    while !rest.is_empty() {
        match rest.find('\t').filter(|_| out.len() < 3) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = rest[i..].trim_start_matches('\t');
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

#[derive(Default)]
struct Answer {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Runner for ScriptedRunner {
    /// Output is handled as the real runner handles it: collected, streamed line by line (to
    /// the command's callback or stderr), or, for an interactive command, written to the
    /// console and not collected; a sensitive command's stdout only reaches the caller.
    fn run(&self, cmd: &Cmd) -> Result<Outcome> {
        let started = Instant::now();
        let answer = self.answer(cmd)?;
        let inherit = cmd.output == Output::Inherit && !cmd.sensitive;
        let mut outcome = Outcome {
            code: Some(answer.code),
            duration: started.elapsed(),
            withheld: cmd.sensitive,
            ..Default::default()
        };
        if inherit {
            self.console.out(&answer.stdout);
            self.console.err(&answer.stderr);
            return Ok(outcome);
        }
        if cmd.output == Output::Stream {
            let stdout = if cmd.sensitive { "" } else { &answer.stdout };
            for line in stdout.lines().chain(answer.stderr.lines()) {
                let shown = redact(line);
                match &cmd.on_line {
                    Some(f) => f(&shown),
                    None => self.console.err(&format!("{shown}\n")),
                }
            }
        }
        outcome.stdout = answer.stdout;
        outcome.stderr = answer.stderr;
        Ok(outcome)
    }

    /// The fake runs to its end at once: the background process has exited, its output kept.
    fn spawn(&self, cmd: &Cmd) -> Result<Box<dyn Background>> {
        let answer = self.answer(cmd)?;
        let stdout = if cmd.sensitive { "" } else { &answer.stdout };
        Ok(Box::new(Finished {
            output: format!("{stdout}{}", answer.stderr),
        }))
    }
}

/// A background command that has already exited.
struct Finished {
    output: String,
}

impl Background for Finished {
    fn pid(&self) -> u32 {
        0
    }
    fn alive(&mut self) -> bool {
        false
    }
    fn stop(&mut self) {}
    fn output(&self) -> String {
        redact(&self.output)
    }
}

/// bash's `[[ $text == $glob ]]`: `*` any run of characters, `?` one, `[...]` one of a set
/// (`[!...]` or `[^...]` none of it, `a-z` ranges), `\x` the character x.
pub fn glob_match(glob: &str, text: &str) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches_at(&g, &t)
}

fn matches_at(g: &[char], t: &[char]) -> bool {
    let Some(&first) = g.first() else {
        return t.is_empty();
    };
    match first {
        '*' => (0..=t.len()).any(|skip| matches_at(&g[1..], &t[skip..])),
        '?' => !t.is_empty() && matches_at(&g[1..], &t[1..]),
        '[' => match bracket(g) {
            Some((set_len, accepts)) => {
                !t.is_empty() && accepts(t[0]) && matches_at(&g[set_len..], &t[1..])
            }
            None => t.first() == Some(&'[') && matches_at(&g[1..], &t[1..]),
        },
        '\\' if g.len() > 1 => t.first() == Some(&g[1]) && matches_at(&g[2..], &t[1..]),
        c => t.first() == Some(&c) && matches_at(&g[1..], &t[1..]),
    }
}

/// The bracket expression at the start of `g`: its length and what it accepts; `None` when
/// it is not closed (then `[` is an ordinary character).
#[allow(clippy::type_complexity)]
fn bracket(g: &[char]) -> Option<(usize, Box<dyn Fn(char) -> bool>)> {
    let mut i = 1;
    let negate = matches!(g.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut first = true;
    loop {
        let c = *g.get(i)?;
        if c == ']' && !first {
            break;
        }
        first = false;
        let c = if c == '\\' {
            i += 1;
            *g.get(i)?
        } else {
            c
        };
        if g.get(i + 1) == Some(&'-') && g.get(i + 2).is_some_and(|e| *e != ']') {
            ranges.push((c, g[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    let accepts = move |c: char| ranges.iter().any(|(a, b)| *a <= c && c <= *b) != negate;
    Some((i + 1, Box::new(accepts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_bash_matches_them() {
        for (glob, text) in [
            ("version --format*", "version --format {{json .}}"),
            ("*port-forward*", "-n todo port-forward svc/x 0:80"),
            ("-p minikube ip", "-p minikube ip"),
            ("get pod?", "get pods"),
            ("[a-c]x", "bx"),
            ("[!a-c]x", "dx"),
            ("[]]", "]"),
            ("a\\*", "a*"),
            ("[x", "[x"),
            ("*", ""),
        ] {
            assert!(glob_match(glob, text), "{glob} {text}");
        }
        for (glob, text) in [
            ("version", "version --client"),
            ("get pod?", "get pod"),
            ("[a-c]x", "dx"),
            ("[^a-c]x", "ax"),
            ("a\\*", "ab"),
        ] {
            assert!(!glob_match(glob, text), "{glob} {text}");
        }
    }

    fn scenario() -> (tempfile::TempDir, ScriptedRunner, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::write(bin.join("docker"), "").unwrap();
        let sc = dir.path().join("scenario");
        fs::create_dir_all(&sc).unwrap();
        let env: Env = [("DOCKER_HOST", "unix:///inherited.sock")]
            .into_iter()
            .collect();
        let console = Arc::new(Console::capture(std::io::sink(), std::io::sink()));
        let r = ScriptedRunner::new(&bin, &sc, dir.path().join("calls.log"), env, console);
        (dir, r, bin.join("docker"))
    }

    #[test]
    fn file_lists_are_consumed_in_order_and_the_last_entry_repeats() {
        let (dir, r, docker) = scenario();
        let sc = dir.path().join("scenario");
        fs::write(sc.join("a.txt"), "first\n").unwrap();
        fs::write(sc.join("b.txt"), "second\n").unwrap();
        fs::write(
            sc.join("docker.rules"),
            "# a comment\nimage inspect*\t0\t-|1,a.txt,b.txt\t-\n*\t3\t-\n",
        )
        .unwrap();
        let c = Cmd::new(docker.display().to_string()).args(["image", "inspect", "a:b"]);
        let codes: Vec<(Option<i32>, String)> = (0..4)
            .map(|_| r.run(&c).map(|o| (o.code, o.stdout)).unwrap())
            .collect();
        assert_eq!(
            codes,
            vec![
                (Some(1), String::new()),
                (Some(0), "first\n".into()),
                (Some(0), "second\n".into()),
                (Some(0), "second\n".into()),
            ]
        );
        let other = r
            .run(&Cmd::new(docker.display().to_string()).arg("ps"))
            .unwrap();
        assert_eq!(other.code, Some(3));
        // The command's own DOCKER_HOST wins over the inherited one; a removed one is gone.
        let env = Cmd::new(docker.display().to_string())
            .arg("ps")
            .env("DOCKER_HOST", "tcp://own:2376");
        r.run(&env).unwrap();
        r.run(&env.clone().env_remove("DOCKER_HOST")).unwrap();
        let bare = Cmd::new(docker.display().to_string())
            .arg("ps")
            .env_remove("DOCKER_HOST");
        r.run(&bare).unwrap();
        let log = fs::read_to_string(dir.path().join("calls.log")).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(
            lines[0],
            "docker image inspect a:b [DOCKER_HOST=unix:///inherited.sock]"
        );
        assert_eq!(&lines[5..7], ["docker ps [DOCKER_HOST=tcp://own:2376]"; 2]);
        assert_eq!(lines[7], "docker ps");
    }

    #[test]
    fn what_only_a_process_can_do_is_refused() {
        let (dir, r, docker) = scenario();
        let sc = dir.path().join("scenario");
        fs::write(sc.join("docker.rules"), "*\t0\t-\nnever\t0\t-\n").unwrap();
        let err = r.run(&Cmd::new("/bin/sh")).unwrap_err();
        assert!(err.to_string().contains("needs a real process"), "{err}");
        let err = r.run(&Cmd::new(
            dir.path().join("bin/absent").display().to_string(),
        ));
        assert!(err.unwrap_err().to_string().contains("cargo xtask doctor"));
        fs::write(sc.join("docker.rules"), "*\t0\tx@sleep:30\n").unwrap();
        let err = r.run(&Cmd::new(docker.display().to_string())).unwrap_err();
        assert!(err.to_string().contains("needs a real process"), "{err}");
        assert_eq!(r.refusals().lock().unwrap().len(), 2);
        fs::write(sc.join("docker.rules"), "").unwrap();
        let out = r
            .run(&Cmd::new(docker.display().to_string()).args(["build", "-f", "-"]))
            .unwrap();
        assert_eq!(out.code, Some(97));
        assert_eq!(
            out.stderr,
            "fake docker: no scenario rule matches: docker build -f -\n"
        );
        assert_eq!(fs::read_to_string(sc.join("docker.stdin")).unwrap(), "");
    }
}
