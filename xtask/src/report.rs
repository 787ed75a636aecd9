//! The measurement report: `target/xtask/report.json` plus a Markdown table (also appended to
//! `$GITHUB_STEP_SUMMARY` when set). Every task that measures adds to one report per run.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Gate {
    pub id: String,
    pub name: String,
    pub value: f64,
    pub budget: f64,
    pub unit: String,
    pub pass: bool,
    /// How value and budget compare to pass: `<` or `≤`.
    pub op: String,
    /// Timing gates are reported but never fail `cargo xtask test` (noisy shared machines).
    pub enforced: bool,
}

impl Gate {
    /// A "below the budget" gate.
    pub fn below(id: &str, name: impl Into<String>, value: f64, budget: f64, unit: &str) -> Self {
        Gate {
            id: id.into(),
            name: name.into(),
            value,
            budget,
            unit: unit.into(),
            pass: value < budget,
            op: "<".into(),
            enforced: true,
        }
    }

    /// An "at most the budget" gate (0 warnings, ≤ 75 %).
    pub fn at_most(id: &str, name: impl Into<String>, value: f64, budget: f64, unit: &str) -> Self {
        Gate {
            pass: value <= budget,
            op: "≤".into(),
            ..Gate::below(id, name, value, budget, unit)
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRow {
    pub service: String,
    pub tag: String,
    pub size: Option<u64>,
    pub own_size: Option<u64>,
    pub cached: bool,
}

/// What became of a timed step. Serialised in lower case (`"ok"`, `"failed"`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
    /// A build that found its image already there.
    Cached,
    /// Delivery: the image was already where the cluster looks.
    Present,
    /// Delivery: pushed to the registry.
    Pushed,
    /// Delivery: loaded into the node (`kind load`, `minikube image load`).
    Loaded,
    /// Not a step: a fact worth a row of the report.
    Note,
}

impl Status {
    /// `Ok` or `Failed`, as the result went.
    pub fn of<T, E>(result: &std::result::Result<T, E>) -> Status {
        if result.is_ok() {
            Status::Ok
        } else {
            Status::Failed
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cached => "cached",
            Status::Present => "present",
            Status::Pushed => "pushed",
            Status::Loaded => "loaded",
            Status::Note => "note",
        })
    }
}

/// What one check or suite came to. `lint`'s checks and `test`'s suites both end in one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Passed, with what it found (may be empty).
    Pass(String),
    /// Not run, with why: a missing tool outside CI, or nothing to check yet.
    Skip(String),
    /// Failed, with why.
    Fail(String),
}

/// The error a check returns to be counted as skipped rather than failed (see
/// [`Outcome::of`]).
#[derive(Debug)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

impl Outcome {
    /// A check's result: `Ok` passes, a [`Skip`] error skips, any other error fails.
    pub fn of(result: anyhow::Result<String>) -> Outcome {
        match result {
            Ok(found) => Outcome::Pass(found),
            Err(e) => match e.downcast_ref::<Skip>() {
                Some(Skip(why)) => Outcome::Skip(why.clone()),
                None => Outcome::Fail(format!("{e:#}")),
            },
        }
    }

    pub fn status(&self) -> Status {
        match self {
            Outcome::Pass(_) => Status::Ok,
            Outcome::Skip(_) => Status::Skipped,
            Outcome::Fail(_) => Status::Failed,
        }
    }

    /// One line for the terminal: `✓ name: found`, `! name: skipped: why`, `✗ name: why`.
    pub fn line(&self, name: &str) -> String {
        match self {
            Outcome::Pass(found) if found.is_empty() => format!("✓ {name}"),
            Outcome::Pass(found) => format!("✓ {name}: {found}"),
            Outcome::Skip(why) => format!("! {name}: skipped: {why}"),
            Outcome::Fail(why) => format!("✗ {name}: {why}"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskTiming {
    pub name: String,
    pub seconds: f64,
    pub status: Status,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub run_id: String,
    pub started: u64,
    pub tasks: Vec<TaskTiming>,
    pub gates: Vec<Gate>,
    pub images: Vec<ImageRow>,
}

impl Report {
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Report {
            run_id: format!("{}-{}", now.as_secs(), std::process::id()),
            started: now.as_secs(),
            tasks: Vec::new(),
            gates: Vec::new(),
            images: Vec::new(),
        }
    }

    pub fn task(&mut self, name: &str, took: Duration, status: Status) {
        self.tasks.push(TaskTiming {
            name: name.into(),
            seconds: round2(took.as_secs_f64()),
            status,
        });
    }

    /// One line per gate, then the verdict: a failed enforced gate fails the command (exit 1)
    /// unless `--no-gates`; `fix` says where to look.
    pub fn verdict(&self, ctx: &crate::ctx::Ctx, fix: &str) -> Result<()> {
        for g in &self.gates {
            let mark = if g.pass { "✓" } else { "✗" };
            // One decimal at most: `5 s`, `45.6 MB`.
            let value = (g.value * 10.0).round() / 10.0;
            ctx.say(format!(
                "{mark} {} {}: {value} {} (budget {} {} {})",
                g.id, g.name, g.unit, g.op, g.budget, g.unit
            ));
        }
        let failed = self.failed_gates().len();
        if failed == 0 {
            return Ok(());
        }
        if ctx.global.no_gates {
            ctx.say(format!(
                "{failed} gate(s) over budget; reported only (--no-gates)"
            ));
            return Ok(());
        }
        ctx.say(format!(
            "{failed} gate(s) over budget: {fix}; `--no-gates` reports without failing"
        ));
        Err(crate::Exit(1).into())
    }

    /// A report another run of the xtask wrote (`dir/report.json`).
    pub fn read(dir: &Path) -> Result<Report> {
        let path = dir.join("report.json");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn failed_gates(&self) -> Vec<&Gate> {
        self.gates
            .iter()
            .filter(|g| g.enforced && !g.pass)
            .collect()
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.tasks.is_empty() {
            s.push_str("| task | seconds | status |\n|---|---:|---|\n");
            for t in &self.tasks {
                s.push_str(&format!(
                    "| {} | {:.2} | {} |\n",
                    t.name, t.seconds, t.status
                ));
            }
            s.push('\n');
        }
        if !self.images.is_empty() {
            s.push_str(
                "| image | tag | size MB | own layers MB | cached |\n|---|---|---:|---:|---|\n",
            );
            for i in &self.images {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    i.service,
                    i.tag,
                    mb(i.size),
                    mb(i.own_size),
                    if i.cached { "yes" } else { "no" }
                ));
            }
            s.push('\n');
        }
        if !self.gates.is_empty() {
            s.push_str("| gate | what | value | budget | result |\n|---|---|---:|---:|---|\n");
            for g in &self.gates {
                let result = match (g.pass, g.enforced) {
                    (true, _) => "pass",
                    (false, true) => "FAIL",
                    (false, false) => "over (reported only)",
                };
                s.push_str(&format!(
                    "| {} | {} | {:.1} {} | {} {} {} | {} |\n",
                    g.id, g.name, g.value, g.unit, g.op, g.budget, g.unit, result
                ));
            }
        }
        s
    }

    /// Write `report.json` and `report.md` under `dir`, and append to the CI step summary.
    pub fn write(&self, env: &crate::ctx::Env, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = dir.join("report.json");
        fs::write(&json, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        let md = self.markdown();
        fs::write(dir.join("report.md"), &md)?;
        if let Some(summary) = env.get("GITHUB_STEP_SUMMARY") {
            if !summary.is_empty() {
                let mut f = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(summary)?;
                writeln!(f, "{md}")?;
            }
        }
        Ok(json)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn mb(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.1}", b as f64 / 1e6))
        .unwrap_or_else(|| "–".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_prints_as_it_is_serialised() {
        use Status::*;
        for s in [Ok, Failed, Skipped, Cached, Present, Pushed, Loaded, Note] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.to_string().as_str());
        }
    }

    #[test]
    fn failed_enforced_gates_are_listed_and_written() {
        let mut r = Report::new();
        r.gates.push(Gate::below(
            "SC-003o",
            "backend own layers",
            120.0,
            340.0,
            "MB",
        ));
        r.gates.push(Gate::below(
            "SC-003o",
            "frontend own layers",
            75.0,
            60.0,
            "MB",
        ));
        let mut timing = Gate::below("SC-002", "cold start", 4.0, 3.0, "s");
        timing.enforced = false;
        r.gates.push(timing);
        let failed = r.failed_gates();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].name, "frontend own layers");
        let dir = tempfile::tempdir().unwrap();
        let path = r.write(&crate::ctx::Env::default(), dir.path()).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(v["gates"][1]["pass"], false);
        let md = fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(
            md.contains("| SC-003o | frontend own layers | 75.0 MB | < 60 MB | FAIL |"),
            "{md}"
        );
        assert!(md.contains("over (reported only)"));
    }
}
