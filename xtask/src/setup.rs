//! `cargo xtask setup`: fetch the pinned kubectl, helm and minikube into the project's
//! `.tools/<name>-<version>/`, each verified against the official sha256 published beside it,
//! so a machine with Docker and Rust and nothing else can run `cargo xtask deploy`.
//!
//! Nothing outside the project is touched and nothing needs root: a download lands in
//! `.tools/.partial/`, is checked, unpacked and made executable in a staging folder there,
//! and only then renamed into place in one step. A checksum mismatch deletes the file and
//! installs nothing. Tool resolution (`tools::resolve`) already prefers an explicit
//! `XTASK_<TOOL>` over `.tools/` over PATH, so installed tools are used without any PATH edits.
//!
//! Docker is never downloaded: it needs a system service; `doctor` gives the per-OS steps.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::ctx::Ctx;
use crate::process::Cmd;
use crate::tools::{self, Curl, Helm, Kubectl, Minikube, Source, Tar, Tool, Version};

/// Replaces `https://` of every official host: `<base>/dl.k8s.io/release/…`,
/// `<base>/get.helm.sh/…`, `<base>/github.com/kubernetes/minikube/…` (a mirror, or the
/// tests' loopback server).
pub const BASE_URL_ENV: &str = "XTASK_SETUP_BASE_URL";
/// Seconds one download attempt may take (curl `--max-time`); default 600.
pub const MAX_TIME_ENV: &str = "XTASK_SETUP_MAX_TIME";

/// One pinned tool and where its official release lives.
#[derive(Debug)]
pub struct Pin {
    pub name: &'static str,
    pub version: &'static str,
    pub host: &'static str,
    /// Path on `host`; `{ver}`, `{os}` (linux/darwin/windows), `{arch}` (amd64/arm64),
    /// `{exe}` (`.exe` on Windows) and `{archive}` (`tar.gz`, `zip` on Windows).
    pub path: &'static str,
    /// The checksum file is the download's URL plus this suffix.
    pub checksum_suffix: &'static str,
    /// For an archive: where the binary sits inside it.
    pub member: Option<&'static str>,
    /// The project publishes no Windows arm64 build; Windows on Arm runs the amd64 one
    /// under its x64 emulation.
    pub windows_arm64_uses_amd64: bool,
}

/// The pinned versions — the one place to bump them. Only versions whose release tags are
/// published upstream; each satisfies `doctor`'s minimum (a unit test holds that). kubectl 1.35
/// matches minikube 1.38's default Kubernetes (v1.35.1), inside kubectl's ±1 minor skew.
/// Helm 4: the chart is checked with both, CI's default `helm` is 4, and Helm 3 is in its
/// security-fixes-only tail.
pub const PINS: &[Pin] = &[
    // https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ (`kubectl.sha256` beside it:
    // the bare hash)
    Pin {
        name: "kubectl",
        version: "1.35.4",
        host: "dl.k8s.io",
        path: "release/v{ver}/bin/{os}/{arch}/kubectl{exe}",
        checksum_suffix: ".sha256",
        member: None,
        windows_arm64_uses_amd64: false,
    },
    // https://helm.sh/docs/intro/install/ and the release notes' download table
    // (`.sha256sum` beside each archive: `<hash>  <filename>`); `<os>-<arch>/helm` inside.
    Pin {
        name: "helm",
        version: "4.2.4",
        host: "get.helm.sh",
        path: "helm-v{ver}-{os}-{arch}.{archive}",
        checksum_suffix: ".sha256sum",
        member: Some("{os}-{arch}/helm{exe}"),
        windows_arm64_uses_amd64: false,
    },
    // https://github.com/kubernetes/minikube/releases (`minikube-<os>-<arch>[.exe].sha256`
    // beside each binary: the bare hash)
    Pin {
        name: "minikube",
        version: "1.38.1",
        host: "github.com",
        path: "kubernetes/minikube/releases/download/v{ver}/minikube-{os}-{arch}{exe}",
        checksum_suffix: ".sha256",
        member: None,
        windows_arm64_uses_amd64: true,
    },
];

pub fn pin(name: &str) -> Option<&'static Pin> {
    PINS.iter().find(|p| p.name == name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Name {
    Kubectl,
    Helm,
    Minikube,
}

impl Name {
    fn pin(self) -> &'static Pin {
        let name = match self {
            Name::Kubectl => "kubectl",
            Name::Helm => "helm",
            Name::Minikube => "minikube",
        };
        pin(name).expect("every Name has a pin")
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tools to install (default: kubectl, helm and minikube).
    #[arg(value_enum)]
    pub tools: Vec<Name>,
    /// Verify what is installed (present, executable, runs, checksum as recorded at install
    /// time) without downloading anything.
    #[arg(long, conflicts_with_all = ["offline", "force", "list"])]
    pub check: bool,
    /// Install from files already downloaded into DIR, named as the official downloads, each
    /// with its checksum file beside it (`--list` names them). For air-gapped machines.
    #[arg(long, value_name = "DIR")]
    pub offline: Option<PathBuf>,
    /// Reinstall even when the pinned version is already in .tools/.
    #[arg(long)]
    pub force: bool,
    /// Print the pinned versions and the URLs they come from, and change nothing.
    #[arg(long, conflicts_with_all = ["offline", "force"])]
    pub list: bool,
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let pins: Vec<&'static Pin> = if self.tools.is_empty() {
            PINS.iter().collect()
        } else {
            self.tools.iter().map(|n| n.pin()).collect()
        };
        let platform = Platform::current()?;
        let base = base_url(ctx);
        let plans: Vec<Plan> = pins
            .iter()
            .map(|p| Plan::new(p, platform, base.as_deref()))
            .collect();
        if self.list {
            return list(ctx, &plans);
        }
        if self.check {
            return check(ctx, &plans);
        }
        let lines = install(ctx, &plans, self.force, self.offline.as_deref())?;
        print_lines(ctx, &lines)
    }
}

/// For `deploy`: when kubectl, helm or minikube is missing, offer to run `setup` — ask on a
/// terminal, proceed with `yes` or in CI, otherwise fail naming `cargo xtask setup`.
///
/// `ctx.tools` was resolved before the install: callers re-resolve afterwards
/// (`tools::Tools::resolve`) to pick up what landed in `.tools/`.
pub fn ensure_tools(ctx: &Ctx, yes: bool) -> Result<()> {
    let missing: Vec<&Tool> = [&ctx.tools.kubectl, &ctx.tools.helm, &ctx.tools.minikube]
        .into_iter()
        .filter(|t| !t.found())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // An override naming a file that is not there wins over anything setup installs.
    for t in &missing {
        let var = format!("XTASK_{}", t.name.to_uppercase());
        if ctx.env.non_empty(&var).is_some() {
            bail!(
                "${var} points at {}, which does not exist: fix or unset it",
                t.program.display()
            );
        }
    }
    let names: Vec<&str> = missing.iter().map(|t| t.name).collect();
    let list = names.join(", ");
    let terminal = ctx.console.can_ask();
    match decide(yes, ctx.ci, terminal) {
        Decision::Proceed => {}
        Decision::Ask => {
            ctx.console.err(&format!(
                "missing: {list}. Download the pinned version{} into .tools/ now (`cargo xtask setup`)? [Y/n] ",
                if names.len() > 1 { "s" } else { "" }
            ));
            let answer = ctx.console.read_line()?;
            if !matches!(answer.trim().to_lowercase().as_str(), "" | "y" | "yes") {
                bail!("missing: {list}: run `cargo xtask setup` (or see `cargo xtask doctor`)");
            }
        }
        Decision::Refuse => bail!(
            "missing: {list}: run `cargo xtask setup` first, or pass --yes to let deploy run it"
        ),
    }
    let platform = Platform::current()?;
    let base = base_url(ctx);
    let plans: Vec<Plan> = names
        .iter()
        .filter_map(|n| pin(n))
        .map(|p| Plan::new(p, platform, base.as_deref()))
        .collect();
    let lines = install(ctx, &plans, false, None)?;
    if !ctx.global.json {
        print_lines(ctx, &lines)?;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Proceed,
    Ask,
    Refuse,
}

fn decide(yes: bool, ci: bool, terminal: bool) -> Decision {
    if yes || ci {
        Decision::Proceed
    } else if terminal {
        Decision::Ask
    } else {
        Decision::Refuse
    }
}

fn base_url(ctx: &Ctx) -> Option<String> {
    ctx.env
        .get(BASE_URL_ENV)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

fn max_time(ctx: &Ctx) -> Duration {
    let secs = ctx
        .env
        .get(MAX_TIME_ENV)
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(600);
    Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------------------
// Platforms and URLs

/// An OS and architecture in the release files' spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub arch: &'static str,
}

impl Platform {
    pub fn current() -> Result<Platform> {
        Platform::from_rust(std::env::consts::OS, std::env::consts::ARCH)
    }

    fn from_rust(os: &str, arch: &str) -> Result<Platform> {
        let os = match os {
            "linux" => "linux",
            "macos" => "darwin",
            "windows" => "windows",
            other => bail!(
                "no pinned downloads for {other}: install kubectl, helm and minikube yourself \
                 (`cargo xtask doctor` shows how) or point XTASK_KUBECTL, XTASK_HELM and XTASK_MINIKUBE at them"
            ),
        };
        let arch = match arch {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => bail!(
                "no pinned downloads for {other} CPUs: install kubectl, helm and minikube yourself \
                 (`cargo xtask doctor` shows how) or point XTASK_KUBECTL, XTASK_HELM and XTASK_MINIKUBE at them"
            ),
        };
        Ok(Platform { os, arch })
    }

    fn exe(&self) -> &'static str {
        if self.os == "windows" {
            ".exe"
        } else {
            ""
        }
    }
}

/// Everything needed to fetch one tool for one platform.
#[derive(Clone, Debug)]
pub struct Plan {
    pub pin: &'static Pin,
    pub url: String,
    pub checksum_url: String,
    /// The official file names (what `--offline` looks for).
    pub file: String,
    pub checksum_file: String,
    /// The binary's path inside the archive, if it is one.
    pub member: Option<String>,
    /// The installed binary's name: `kubectl`, `helm.exe`, …
    pub exe: String,
}

impl Plan {
    pub fn new(pin: &'static Pin, platform: Platform, base: Option<&str>) -> Plan {
        let arch = if pin.windows_arm64_uses_amd64 && platform.os == "windows" {
            "amd64"
        } else {
            platform.arch
        };
        let fill = |pattern: &str| {
            pattern
                .replace("{ver}", pin.version)
                .replace("{os}", platform.os)
                .replace("{arch}", arch)
                .replace("{exe}", platform.exe())
                .replace(
                    "{archive}",
                    if platform.os == "windows" {
                        "zip"
                    } else {
                        "tar.gz"
                    },
                )
        };
        let path = fill(pin.path);
        let url = match base {
            Some(b) => format!("{}/{}/{path}", b.trim_end_matches('/'), pin.host),
            None => format!("https://{}/{path}", pin.host),
        };
        let file = path.rsplit('/').next().unwrap_or(&path).to_string();
        Plan {
            pin,
            checksum_url: format!("{url}{}", pin.checksum_suffix),
            checksum_file: format!("{file}{}", pin.checksum_suffix),
            url,
            file,
            member: pin.member.map(fill),
            exe: format!("{}{}", pin.name, platform.exe()),
        }
    }
}

/// The sha256 a checksum file gives for `file`: a bare hash (`kubectl.sha256`,
/// `minikube-….sha256`) or sha256sum lines `<hash>  <name>` (`helm-….sha256sum`; `*name` in
/// binary mode), where the line naming `file` counts.
pub fn parse_checksum(text: &str, file: &str) -> Result<String> {
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(hash) = parts.next() else {
            continue;
        };
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        match parts.next() {
            None => return Ok(hash.to_ascii_lowercase()),
            Some(name) => {
                let name = name.trim_start_matches('*');
                let base = name.rsplit('/').next().unwrap_or(name);
                if base == file {
                    return Ok(hash.to_ascii_lowercase());
                }
            }
        }
    }
    bail!(
        "no sha256 for {file} in it (expected 64 hex digits, optionally followed by the file name); got {:?}",
        text.chars().take(200).collect::<String>()
    )
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::context_hash::hex(&hasher.finalize()))
}

// ---------------------------------------------------------------------------------------
// Install

fn tools_dir(ctx: &Ctx) -> PathBuf {
    ctx.root.join(".tools")
}

fn install_dir(ctx: &Ctx, pin: &Pin) -> PathBuf {
    tools_dir(ctx).join(format!("{}-{}", pin.name, pin.version))
}

/// What setup did or found for one tool (the `--json` shape).
#[derive(Debug, Serialize)]
struct Line {
    name: &'static str,
    version: &'static str,
    ok: bool,
    path: String,
    status: String,
}

fn install(ctx: &Ctx, plans: &[Plan], force: bool, offline: Option<&Path>) -> Result<Vec<Line>> {
    if let Some(dir) = offline {
        if !dir.is_dir() {
            bail!(
                "--offline {}: no such folder (it should hold the files `cargo xtask setup --list` names)",
                dir.display()
            );
        }
    }
    let mut lines = Vec::new();
    let mut result = Ok(());
    for plan in plans {
        match install_one(ctx, plan, force, offline) {
            Ok(status) => lines.push(Line {
                name: plan.pin.name,
                version: plan.pin.version,
                ok: true,
                path: ctx
                    .rel(&install_dir(ctx, plan.pin).join(&plan.exe))
                    .display()
                    .to_string(),
                status,
            }),
            Err(e) => {
                result = Err(e.context(format!(
                    "{} {} was not installed",
                    plan.pin.name, plan.pin.version
                )));
                break;
            }
        }
    }
    // Only removed when empty: a partial download stays to be resumed next time.
    let _ = fs::remove_dir(tools_dir(ctx).join(".partial"));
    result.map(|()| lines)
}

fn install_one(ctx: &Ctx, plan: &Plan, force: bool, offline: Option<&Path>) -> Result<String> {
    let pin = plan.pin;
    let dir = install_dir(ctx, pin);
    if !force && verify_installed(ctx, plan).is_ok() {
        return Ok("already installed (--force reinstalls)".into());
    }
    let partial = tools_dir(ctx).join(".partial");
    // The version is in the names: a leftover of another pin is never resumed.
    let download = partial.join(format!("{}-{}-{}", pin.name, pin.version, plan.file));
    let sums = partial.join(format!(
        "{}-{}-{}",
        pin.name, pin.version, plan.checksum_file
    ));
    let stage = partial.join(format!("{}-{}.stage", pin.name, pin.version));
    if ctx.global.dry_run {
        match offline {
            Some(d) => ctx.show(format!(
                "would copy {} and {} from {}",
                plan.file,
                plan.checksum_file,
                d.display()
            )),
            None => {
                let curl = curl_tool(ctx)?;
                let c = curl_for(ctx, &curl);
                ctx.run(&c.download(&plan.checksum_url, &sums))?;
                ctx.run(&c.download(&plan.url, &download))?;
            }
        }
        ctx.show(format!(
            "would verify its sha256 and install it as {}",
            ctx.rel(&dir.join(&plan.exe)).display()
        ));
        return Ok("planned (--dry-run)".into());
    }
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;

    match offline {
        Some(d) => copy_offline(plan, d, &download, &sums)?,
        None => fetch(ctx, plan, &download, &sums)?,
    }

    let sums_text =
        fs::read_to_string(&sums).with_context(|| format!("reading {}", sums.display()))?;
    let expected = parse_checksum(&sums_text, &plan.file)
        .with_context(|| format!("unreadable checksum file {}", plan.checksum_url))?;
    let actual = sha256_file(&download)?;
    if expected != actual {
        let _ = fs::remove_file(&download);
        let _ = fs::remove_file(&sums);
        bail!(
            "checksum mismatch for {}:\n  expected {expected} (from {})\n  actual   {actual}\n\
             The file was deleted and nothing was installed. Run `cargo xtask setup` again; if it \
             keeps happening, something between you and the server (a proxy or mirror) changes the file.",
            plan.url,
            plan.checksum_url
        );
    }

    // Verified: unpack and make executable in a staging folder, then move it into place.
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let staged = stage.join(&plan.exe);
    let result = stage_binary(ctx, plan, &download, &stage, &staged)
        .and_then(|()| finish_stage(ctx, plan, &stage, &staged));
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&stage);
        return Err(e);
    }
    let _ = fs::remove_file(&download);
    let _ = fs::remove_file(&sums);

    if dir.exists() {
        let old = partial.join(format!("{}-{}.old", pin.name, pin.version));
        let _ = fs::remove_dir_all(&old);
        fs::rename(&dir, &old).with_context(|| format!("moving {} aside", dir.display()))?;
        fs::rename(&stage, &dir).with_context(|| format!("installing {}", dir.display()))?;
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(&stage, &dir).with_context(|| format!("installing {}", dir.display()))?;
    }
    Ok(match offline {
        Some(d) => format!("installed from {}", d.display()),
        None => "installed".into(),
    })
}

fn stage_binary(
    ctx: &Ctx,
    plan: &Plan,
    download: &Path,
    stage: &Path,
    staged: &Path,
) -> Result<()> {
    match &plan.member {
        None => fs::rename(download, staged)
            .with_context(|| format!("moving {} into {}", download.display(), stage.display())),
        Some(member) => {
            let unpack = stage.join(".unpack");
            fs::create_dir_all(&unpack)?;
            let tar = tools::resolve(&ctx.root, &ctx.env, "tar");
            if !tar.found() {
                bail!("`tar` is needed to unpack {}: install it (it ships with macOS, Windows 10+ and every Linux)", plan.file);
            }
            ctx.run_ok(&Tar { tool: &tar }.extract(download, &unpack))?;
            let inside = unpack.join(member);
            if !inside.is_file() {
                bail!("{} holds no {member}", plan.url);
            }
            fs::rename(&inside, staged)?;
            fs::remove_dir_all(&unpack)?;
            Ok(())
        }
    }
}

/// Executable bit, the install record, and proof that the binary runs and is the pinned
/// version — all before it is moved into place.
fn finish_stage(ctx: &Ctx, plan: &Plan, stage: &Path, staged: &Path) -> Result<()> {
    make_executable(staged)?;
    let hash = sha256_file(staged)?;
    fs::write(stage.join(".sha256"), format!("{hash}  {}\n", plan.exe))
        .with_context(|| format!("writing {}", stage.display()))?;
    let found = run_version(ctx, plan.pin, staged)?;
    let pinned = Version::parse(plan.pin.version).expect("pinned versions parse");
    if found != pinned {
        bail!(
            "{} from {} reports version {found}, not the pinned {pinned}",
            plan.exe,
            plan.url
        );
    }
    Ok(())
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The tool's own version command, through the typed wrappers `doctor` uses.
fn run_version(ctx: &Ctx, pin: &Pin, program: &Path) -> Result<Version> {
    let tool = Tool {
        name: pin.name,
        program: program.to_path_buf(),
        source: Source::Project,
    };
    let cmd: Cmd = match pin.name {
        "kubectl" => Kubectl { tool: &tool }.version_client(),
        "helm" => Helm { tool: &tool }.version(),
        _ => Minikube {
            tool: &tool,
            profile: &ctx.global.profile,
        }
        .version(),
    };
    let out = ctx.run_ok(&cmd).with_context(|| {
        format!(
            "{} does not run on this machine ({}/{})",
            program.display(),
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    })?;
    match pin.name {
        "kubectl" => Ok(tools::parse_kubectl_version(&out.stdout)?.0),
        "helm" => Version::parse(&out.stdout)
            .with_context(|| format!("unreadable `helm version`: {:?}", out.stdout)),
        _ => tools::parse_minikube_version(&out.stdout),
    }
}

fn copy_offline(plan: &Plan, dir: &Path, download: &Path, sums: &Path) -> Result<()> {
    for (name, url, to) in [
        (&plan.file, &plan.url, download),
        (&plan.checksum_file, &plan.checksum_url, sums),
    ] {
        let from = dir.join(name);
        if !from.is_file() {
            bail!(
                "{} is not in {}: download it from {url} on a connected machine",
                name,
                dir.display()
            );
        }
        fs::copy(&from, to).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

fn curl_tool(ctx: &Ctx) -> Result<Tool> {
    let curl = tools::resolve(&ctx.root, &ctx.env, "curl");
    if !curl.found() {
        bail!(
            "`curl` is needed to download the tools: install it (it ships with macOS, Windows 10+ \
             and most Linux distributions), or fetch the files elsewhere and use `cargo xtask setup --offline DIR`"
        );
    }
    Ok(curl)
}

fn curl_for<'a>(ctx: &Ctx, curl: &'a Tool) -> Curl<'a> {
    Curl {
        tool: curl,
        max_time: max_time(ctx),
        progress: ctx.interactive(),
    }
}

fn fetch(ctx: &Ctx, plan: &Plan, download: &Path, sums: &Path) -> Result<()> {
    let curl = curl_tool(ctx)?;
    let c = curl_for(ctx, &curl);
    let _ = fs::remove_file(sums);
    ctx.say(format!(
        "{} {}: fetching {}",
        plan.pin.name, plan.pin.version, plan.url
    ));
    download_one(ctx, &c, plan, &plan.checksum_url, sums)?;
    let leftover = download.exists();
    let took = match download_one(ctx, &c, plan, &plan.url, download) {
        Ok(took) => took,
        // A leftover that cannot be resumed (already complete, or the server lost it): start over.
        Err(_) if leftover => {
            ctx.say(format!(
                "{}: the earlier partial download could not be resumed; starting over",
                plan.pin.name
            ));
            let _ = fs::remove_file(download);
            download_one(ctx, &c, plan, &plan.url, download)?
        }
        Err(e) => return Err(e),
    };
    let size = fs::metadata(download).map(|m| m.len()).unwrap_or(0);
    let secs = took.as_secs_f64().max(0.001);
    ctx.say(format!(
        "{} {}: {:.1} MB in {:.1} s ({:.1} MB/s)",
        plan.pin.name,
        plan.pin.version,
        size as f64 / 1e6,
        secs,
        size as f64 / 1e6 / secs
    ));
    Ok(())
}

fn download_one(ctx: &Ctx, curl: &Curl, plan: &Plan, url: &str, to: &Path) -> Result<Duration> {
    let cmd = curl.download(url, to);
    let out = ctx.run(&cmd)?;
    if out.success() {
        return Ok(out.duration);
    }
    let tail = out.tail(5);
    let secs = curl.max_time.as_secs();
    let retries = Curl::RETRIES;
    let offline = "or fetch the files on another machine and use `cargo xtask setup --offline DIR`";
    let var = format!("XTASK_{}", plan.pin.name.to_uppercase());
    let why = match out.code {
        // `--fail` turns an HTTP error into exit 22 and says which; a 404 is a version (or a
        // mirror) that does not have this file.
        Some(22) if tail.contains("error: 404") => format!(
            "{} {} is not published there (HTTP 404): the pinned version does not exist at this \
             location{}. `cargo xtask setup --list` shows every URL setup uses; or install {} \
             yourself and point {var} at it",
            plan.pin.name,
            plan.pin.version,
            if base_url(ctx).is_some() {
                format!(" (check the mirror in {BASE_URL_ENV})")
            } else {
                String::new()
            },
            plan.pin.name
        ),
        Some(2) => format!(
            "this curl does not know an option we need ({tail}): `--retry-all-errors` needs \
             curl ≥ 7.71; upgrade curl, point XTASK_CURL at a newer one, {offline}"
        ),
        Some(28) => format!(
            "timed out ({secs} s per attempt, {retries} retries): a slow or filtered network — \
             check HTTPS_PROXY, raise {MAX_TIME_ENV} (seconds), {offline}"
        ),
        Some(22) => format!(
            "the server answered with an error ({tail}): check the pinned version exists, and \
             {BASE_URL_ENV} if you use a mirror, {offline}"
        ),
        Some(5..=7) => format!(
            "could not connect ({tail}): check the network, HTTPS_PROXY / NO_PROXY, {offline}"
        ),
        Some(35 | 60 | 77) => format!(
            "TLS failed ({tail}): behind a TLS-inspecting proxy, point CURL_CA_BUNDLE at its certificate, {offline}"
        ),
        Some(18 | 56) => format!(
            "the connection kept dropping after {retries} retries ({tail}): run setup again to resume, {offline}"
        ),
        code => format!(
            "curl failed (exit {}): {tail}",
            code.map(|c| c.to_string()).unwrap_or_else(|| "by a signal".into())
        ),
    };
    bail!("downloading {url}: {why}")
}

// ---------------------------------------------------------------------------------------
// Check and list

/// Installed, executable, matching the checksum recorded at install, and running.
fn verify_installed(ctx: &Ctx, plan: &Plan) -> Result<()> {
    let dir = install_dir(ctx, plan.pin);
    let bin = dir.join(&plan.exe);
    if !bin.is_file() {
        bail!("not installed");
    }
    if !is_executable(&bin) {
        bail!("{} is not executable", ctx.rel(&bin).display());
    }
    let record = fs::read_to_string(dir.join(".sha256"))
        .map_err(|_| anyhow::anyhow!("no install record ({}/.sha256)", ctx.rel(&dir).display()))?;
    let expected = parse_checksum(&record, &plan.exe)?;
    let actual = sha256_file(&bin)?;
    if expected != actual {
        bail!("changed since it was installed: sha256 {actual}, recorded {expected}");
    }
    let v = run_version(ctx, plan.pin, &bin)?;
    let pinned = Version::parse(plan.pin.version).expect("pinned versions parse");
    if v != pinned {
        bail!("reports version {v}, not the pinned {pinned}");
    }
    Ok(())
}

fn check(ctx: &Ctx, plans: &[Plan]) -> Result<()> {
    let mut lines = Vec::new();
    for plan in plans {
        let path = ctx
            .rel(&install_dir(ctx, plan.pin).join(&plan.exe))
            .display()
            .to_string();
        let (ok, mut status) = match verify_installed(ctx, plan) {
            Ok(()) => (true, "ok".to_string()),
            Err(e) => (false, format!("{e:#}")),
        };
        // Say so when an explicit override means this copy is not the one tasks use.
        let used = tools::resolve(&ctx.root, &ctx.env, plan.pin.name);
        if let Source::Override(var) = &used.source {
            status.push_str(&format!(" (tasks use ${var} instead)"));
        }
        lines.push(Line {
            name: plan.pin.name,
            version: plan.pin.version,
            ok,
            path,
            status,
        });
    }
    print_lines(ctx, &lines)?;
    let bad: Vec<&str> = lines.iter().filter(|l| !l.ok).map(|l| l.name).collect();
    if !bad.is_empty() {
        bail!(
            "not ready in .tools/: {}: run `cargo xtask setup` (add --force to reinstall a changed one)",
            bad.join(", ")
        );
    }
    Ok(())
}

fn print_lines(ctx: &Ctx, lines: &[Line]) -> Result<()> {
    if ctx.global.json {
        ctx.show(serde_json::to_string_pretty(lines)?);
        return Ok(());
    }
    for l in lines {
        let mark = if l.ok { "✓" } else { "✗" };
        ctx.show(format!(
            "{mark} {:8} {:7}  {}  {}",
            l.name, l.version, l.path, l.status
        ));
    }
    Ok(())
}

fn list(ctx: &Ctx, plans: &[Plan]) -> Result<()> {
    #[derive(Serialize)]
    struct Entry<'a> {
        name: &'a str,
        version: &'a str,
        url: &'a str,
        checksum_url: &'a str,
        file: &'a str,
        checksum_file: &'a str,
        install_path: String,
    }
    let entries: Vec<Entry> = plans
        .iter()
        .map(|p| Entry {
            name: p.pin.name,
            version: p.pin.version,
            url: &p.url,
            checksum_url: &p.checksum_url,
            file: &p.file,
            checksum_file: &p.checksum_file,
            install_path: ctx
                .rel(&install_dir(ctx, p.pin).join(&p.exe))
                .display()
                .to_string(),
        })
        .collect();
    if ctx.global.json {
        ctx.show(serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    for e in &entries {
        ctx.show(format!("{} {}  → {}", e.name, e.version, e.install_path));
        ctx.show(format!("    {}", e.url));
        ctx.show(format!("    {}", e.checksum_url));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: Platform = Platform {
        os: "linux",
        arch: "amd64",
    };

    fn plan_for(name: &str, os: &str, arch: &str) -> Plan {
        let p = Platform::from_rust(os, arch).unwrap();
        Plan::new(pin(name).unwrap(), p, None)
    }

    #[test]
    fn kubectl_urls_per_platform() {
        let v = pin("kubectl").unwrap().version;
        let cases = [
            ("linux", "x86_64", "linux/amd64/kubectl"),
            ("linux", "aarch64", "linux/arm64/kubectl"),
            ("macos", "x86_64", "darwin/amd64/kubectl"),
            ("macos", "aarch64", "darwin/arm64/kubectl"),
            ("windows", "x86_64", "windows/amd64/kubectl.exe"),
            ("windows", "aarch64", "windows/arm64/kubectl.exe"),
        ];
        for (os, arch, tail) in cases {
            let p = plan_for("kubectl", os, arch);
            assert_eq!(p.url, format!("https://dl.k8s.io/release/v{v}/bin/{tail}"));
            assert_eq!(p.checksum_url, format!("{}.sha256", p.url));
            assert_eq!(p.member, None);
        }
        let w = plan_for("kubectl", "windows", "x86_64");
        assert_eq!(
            (w.file.as_str(), w.checksum_file.as_str(), w.exe.as_str()),
            ("kubectl.exe", "kubectl.exe.sha256", "kubectl.exe")
        );
    }

    #[test]
    fn helm_urls_per_platform() {
        let v = pin("helm").unwrap().version;
        let cases = [
            ("linux", "x86_64", "linux-amd64", "tar.gz", "helm"),
            ("linux", "aarch64", "linux-arm64", "tar.gz", "helm"),
            ("macos", "x86_64", "darwin-amd64", "tar.gz", "helm"),
            ("macos", "aarch64", "darwin-arm64", "tar.gz", "helm"),
            ("windows", "x86_64", "windows-amd64", "zip", "helm.exe"),
            ("windows", "aarch64", "windows-arm64", "zip", "helm.exe"),
        ];
        for (os, arch, plat, ext, exe) in cases {
            let p = plan_for("helm", os, arch);
            assert_eq!(p.file, format!("helm-v{v}-{plat}.{ext}"));
            assert_eq!(p.url, format!("https://get.helm.sh/{}", p.file));
            assert_eq!(
                p.checksum_url,
                format!("https://get.helm.sh/helm-v{v}-{plat}.{ext}.sha256sum")
            );
            assert_eq!(p.member.as_deref(), Some(format!("{plat}/{exe}").as_str()));
            assert_eq!(p.exe, exe);
        }
    }

    #[test]
    fn minikube_urls_per_platform() {
        let v = pin("minikube").unwrap().version;
        let base = format!("https://github.com/kubernetes/minikube/releases/download/v{v}");
        let cases = [
            ("linux", "x86_64", "minikube-linux-amd64"),
            ("linux", "aarch64", "minikube-linux-arm64"),
            ("macos", "x86_64", "minikube-darwin-amd64"),
            ("macos", "aarch64", "minikube-darwin-arm64"),
            ("windows", "x86_64", "minikube-windows-amd64.exe"),
            // No Windows arm64 build is published: the amd64 one runs under emulation.
            ("windows", "aarch64", "minikube-windows-amd64.exe"),
        ];
        for (os, arch, file) in cases {
            let p = plan_for("minikube", os, arch);
            assert_eq!(p.url, format!("{base}/{file}"));
            assert_eq!(p.checksum_url, format!("{base}/{file}.sha256"));
            assert_eq!(p.file, file);
        }
    }

    #[test]
    fn base_url_mirrors_the_official_layout() {
        let k = Plan::new(
            pin("kubectl").unwrap(),
            LINUX,
            Some("http://127.0.0.1:8080/"),
        );
        assert_eq!(
            k.url,
            format!(
                "http://127.0.0.1:8080/dl.k8s.io/release/v{}/bin/linux/amd64/kubectl",
                k.pin.version
            )
        );
        let m = Plan::new(pin("minikube").unwrap(), LINUX, Some("http://mirror"));
        assert!(m
            .url
            .starts_with("http://mirror/github.com/kubernetes/minikube/releases/download/v"));
    }

    #[test]
    fn unsupported_platforms_name_the_alternative() {
        let e = Platform::from_rust("freebsd", "x86_64").unwrap_err();
        assert!(e.to_string().contains("XTASK_KUBECTL"), "{e}");
        let e = Platform::from_rust("linux", "riscv64").unwrap_err();
        assert!(e.to_string().contains("cargo xtask doctor"), "{e}");
    }

    #[test]
    fn checksum_files_in_both_official_formats() {
        let h = "a".repeat(64);
        // kubectl/minikube: the bare hash, with or without a newline.
        assert_eq!(parse_checksum(&h, "kubectl").unwrap(), h);
        assert_eq!(parse_checksum(&format!("{h}\n"), "kubectl").unwrap(), h);
        // helm: sha256sum's `<hash>  <file>`; uppercase is normalised.
        let upper = "B".repeat(64);
        let text = format!("{upper}  helm-v4.2.4-linux-amd64.tar.gz\n");
        assert_eq!(
            parse_checksum(&text, "helm-v4.2.4-linux-amd64.tar.gz").unwrap(),
            "b".repeat(64)
        );
        // Several lines: the one naming the file counts (binary-mode `*` and paths allowed).
        let c = "c".repeat(64);
        let multi = format!("{h}  other.tar.gz\n{c} *dist/helm-v4.2.4-linux-amd64.tar.gz\n");
        assert_eq!(
            parse_checksum(&multi, "helm-v4.2.4-linux-amd64.tar.gz").unwrap(),
            c
        );
        // A file for something else, an HTML error page, a short hash: errors.
        assert!(parse_checksum(&format!("{h}  other.tar.gz"), "helm.tar.gz").is_err());
        assert!(parse_checksum("<html>Not Found</html>", "kubectl").is_err());
        assert!(parse_checksum(&"d".repeat(40), "kubectl").is_err());
    }

    #[test]
    fn sha256_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        fs::write(&f, "abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn pins_satisfy_doctors_minimums() {
        use crate::doctor::{MIN_HELM, MIN_KUBECTL, MIN_MINIKUBE};
        let v = |n: &str| Version::parse(pin(n).unwrap().version).unwrap();
        assert!(v("kubectl") >= MIN_KUBECTL);
        assert!(v("helm") >= MIN_HELM);
        assert!(v("minikube") >= MIN_MINIKUBE);
        // The archive member and every URL are filled in completely.
        for p in PINS {
            let plan = Plan::new(p, LINUX, None);
            assert!(!plan.url.contains('{'), "{}", plan.url);
            assert!(!plan.member.unwrap_or_default().contains('{'));
        }
    }

    #[test]
    fn deploy_asks_only_on_a_terminal() {
        assert_eq!(decide(true, false, false), Decision::Proceed);
        assert_eq!(decide(false, true, true), Decision::Proceed);
        assert_eq!(decide(false, false, true), Decision::Ask);
        assert_eq!(decide(false, false, false), Decision::Refuse);
    }

    #[test]
    fn curl_command_line() {
        let tool = Tool {
            name: "curl",
            program: "/usr/bin/curl".into(),
            source: Source::Path,
        };
        let quiet = Curl {
            tool: &tool,
            max_time: Duration::from_secs(90),
            progress: false,
        }
        .download("https://dl.k8s.io/x", Path::new("/p/.tools/.partial/x"));
        assert_eq!(
            quiet.argv_line(),
            "curl --fail --location --retry 5 --retry-delay 1 --retry-all-errors \
             --connect-timeout 15 --max-time 90 -C - -o /p/.tools/.partial/x -sS https://dl.k8s.io/x"
        );
        assert!(quiet.mutates);
        assert_eq!(quiet.output, crate::process::Output::Capture);
        assert!(quiet.timeout >= Duration::from_secs(90 * 6));
        let bar = Curl {
            tool: &tool,
            max_time: Duration::from_secs(90),
            progress: true,
        }
        .download("https://dl.k8s.io/x", Path::new("/x"));
        assert!(bar.argv_line().contains("--progress-bar"));
        assert_eq!(bar.output, crate::process::Output::Inherit);
    }
}
