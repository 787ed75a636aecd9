//! Content hash of a Docker build's inputs, used as the image tag.
//!
//! An image is rebuilt only when its tag changes, so the hash must cover
//! everything that can change the image (the files Docker sends, the
//! Dockerfile, `.dockerignore`, build args, platform) and nothing that can't
//! (mtimes, owners, most permission bits, where the checkout lives). Inputs
//! are fed to SHA-256 in a length-prefixed encoding so that no two different
//! inputs share a byte stream (e.g. files `ab`+`c` vs `a`+`bc`), and the
//! encoding starts with a version tag so a future format change can never
//! collide with an old tag.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sha2::{Digest as _, Sha256};

use crate::dockerignore::DockerIgnore;

/// Bump when the encoding below changes, so old and new tags never collide.
const FORMAT_VERSION: &[u8] = b"todo-xtask-context-v1";

/// Number of hex digits of the digest used as the image tag.
const TAG_LEN: usize = 12;

/// Everything that determines one image build.
#[derive(Debug, Clone, Copy)]
pub struct HashSpec<'a> {
    /// Build context directory.
    pub context: &'a Path,
    /// The Dockerfile; it may live outside the context.
    pub dockerfile: &'a Path,
    /// `--build-arg` values.
    pub build_args: &'a BTreeMap<String, String>,
    /// Target platform, e.g. `linux/amd64`.
    pub platform: &'a str,
}

/// The result of [`hash_context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextDigest {
    /// First 12 hex digits of the digest, used as the image tag.
    pub tag: String,
    /// Full SHA-256 as 64 lowercase hex digits.
    pub digest: String,
    /// Number of context files (and symlinks) included.
    pub files: usize,
    /// Total size in bytes of the included regular files.
    pub bytes: u64,
    /// Directories read while walking the context (the root included). An excluded
    /// directory that no exception can reach into is never read, however big it is.
    pub dirs: usize,
}

/// A context entry that survived `.dockerignore`.
struct Entry {
    /// Path relative to the context, `/` separated, as raw bytes: this is
    /// both the sort key and what gets hashed.
    rel: Vec<u8>,
    abs: PathBuf,
    is_symlink: bool,
}

/// Hashes the build described by `spec`.
///
/// Covers, in order: the format version; the Dockerfile's contents (always,
/// even when it is outside the context or excluded, because Docker always
/// uses it); the `.dockerignore` contents (or its absence); the build args;
/// the platform; then every non-excluded file and symlink of the context
/// sorted bytewise by relative path, each with its path, exec bit, size and
/// contents (a symlink contributes its target, unresolved). Directories
/// themselves are not hashed, so empty directories don't count.
pub fn hash_context(spec: &HashSpec) -> Result<ContextDigest> {
    let context = spec.context;
    match fs::metadata(context) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("build context {} is not a directory", context.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!(
                "build context directory {} does not exist",
                context.display()
            )
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot access build context {}", context.display()))
        }
    }

    let mut hasher = Sha256::new();
    put_bytes(&mut hasher, FORMAT_VERSION);

    hash_dockerfile(&mut hasher, spec.dockerfile)?;

    let ignore_path = context.join(".dockerignore");
    let ignore = match fs::read(&ignore_path) {
        Ok(text) => {
            hasher.update([1]);
            put_bytes(&mut hasher, &text);
            // Go reads the file as bytes; invalid UTF-8 can only appear in
            // patterns that then match nothing, as in Docker.
            DockerIgnore::parse(&String::from_utf8_lossy(&text))
                .with_context(|| format!("invalid {}", ignore_path.display()))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            hasher.update([0]);
            DockerIgnore::empty()
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", ignore_path.display())),
    };

    put_len(&mut hasher, spec.build_args.len());
    for (key, value) in spec.build_args {
        put_bytes(&mut hasher, key.as_bytes());
        put_bytes(&mut hasher, value.as_bytes());
    }
    put_bytes(&mut hasher, spec.platform.as_bytes());

    let mut entries = Vec::new();
    let mut dirs = 0;
    collect(context, "", &ignore, &mut entries, &mut dirs)?;
    entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));

    put_len(&mut hasher, entries.len());
    let mut bytes = 0;
    for entry in &entries {
        put_bytes(&mut hasher, &entry.rel);
        if entry.is_symlink {
            hasher.update([b'L']);
            let target = fs::read_link(&entry.abs)
                .with_context(|| format!("cannot read symlink {}", entry.abs.display()))?;
            put_bytes(&mut hasher, target.as_os_str().as_encoded_bytes());
        } else {
            hasher.update([b'F']);
            bytes += hash_file(&mut hasher, &entry.abs)?;
        }
    }

    let digest = hex(&hasher.finalize());
    Ok(ContextDigest {
        tag: digest[..TAG_LEN].to_owned(),
        digest,
        files: entries.len(),
        bytes,
        dirs,
    })
}

/// The files (and symlinks) of a context that `.dockerignore` keeps, relative to it and in
/// the order they are hashed: what `bench` hands `sha256sum`.
pub fn context_files(context: &Path) -> Result<Vec<PathBuf>> {
    let ignore = match fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => DockerIgnore::empty(),
        Err(e) => return Err(e).context("cannot read .dockerignore"),
    };
    let mut entries = Vec::new();
    collect(context, "", &ignore, &mut entries, &mut 0)?;
    entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    Ok(entries
        .into_iter()
        .map(|e| PathBuf::from(String::from_utf8_lossy(&e.rel).into_owned()))
        .collect())
}

/// Hashes the Dockerfile's contents, with a clear error when it is missing
/// (the most common misconfiguration).
fn hash_dockerfile(hasher: &mut Sha256, path: &Path) -> Result<()> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("Dockerfile {} is missing", path.display())
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open Dockerfile {}", path.display()))
        }
    };
    let size = file
        .metadata()
        .with_context(|| format!("cannot stat Dockerfile {}", path.display()))?
        .len();
    put_u64(hasher, size);
    stream(hasher, &mut file, size, path)
}

/// Walks `dir` (relative path `rel_dir`, empty for the root), collecting the
/// files and symlinks `.dockerignore` keeps, and counting the directories read.
///
/// An excluded directory is skipped whole, as Docker's own walkers skip it, unless an
/// exception could re-include something beneath it ([`DockerIgnore::can_skip_dir`]): so
/// `node_modules`, `.next` or `.venv` cost one `is_excluded` check each, whatever they hold.
fn collect(
    dir: &Path,
    rel_dir: &str,
    ignore: &DockerIgnore,
    out: &mut Vec<Entry>,
    dirs: &mut usize,
) -> Result<()> {
    *dirs += 1;
    let read_dir =
        fs::read_dir(dir).with_context(|| format!("cannot read directory {}", dir.display()))?;
    for entry in read_dir {
        let entry = entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
        let abs = entry.path();
        let name = entry.file_name();
        let mut rel = Vec::with_capacity(rel_dir.len() + 1 + name.len());
        if !rel_dir.is_empty() {
            rel.extend_from_slice(rel_dir.as_bytes());
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_os_str().as_encoded_bytes());
        // Matching works on text; a non-UTF-8 name is matched lossily (its
        // exact bytes are still what gets hashed).
        let rel_str = String::from_utf8_lossy(&rel);
        // `file_type` does not follow symlinks, so a symlink to a directory
        // is hashed as a link rather than walked.
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", abs.display()))?;
        if file_type.is_dir() {
            if !ignore.can_skip_dir(&rel_str) {
                collect(&abs, &rel_str, ignore, out, dirs)?;
            }
            continue;
        }
        // Sockets, FIFOs and devices have no content worth tagging.
        let wanted = file_type.is_file() || file_type.is_symlink();
        if wanted && !ignore.is_excluded(&rel_str) {
            out.push(Entry {
                rel,
                abs,
                is_symlink: file_type.is_symlink(),
            });
        }
    }
    Ok(())
}

/// Hashes one regular file's exec bit, size and contents; returns the size.
fn hash_file(hasher: &mut Sha256, path: &Path) -> Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    hasher.update([u8::from(is_executable(&meta))]);
    let size = meta.len();
    put_u64(hasher, size);
    stream(hasher, &mut file, size, path)?;
    Ok(size)
}

/// Feeds exactly `size` bytes of `file` to the hasher without loading it
/// whole; a file that shrinks meanwhile is an error because the length
/// prefix already promised `size` bytes.
fn stream(hasher: &mut Sha256, file: &mut File, size: u64, path: &Path) -> Result<()> {
    let copied = io::copy(&mut file.take(size), hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if copied != size {
        bail!(
            "{} changed while hashing (expected {size} bytes, read {copied})",
            path.display()
        );
    }
    Ok(())
}

/// Docker only preserves whether a file is executable in any way that can
/// matter for a build, so that is the only permission we hash.
#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

fn put_u64(hasher: &mut Sha256, value: u64) {
    hasher.update(value.to_le_bytes());
}

fn put_len(hasher: &mut Sha256, len: usize) {
    put_u64(hasher, len as u64);
}

/// Length-prefixed bytes: the prefix makes concatenations unambiguous.
fn put_bytes(hasher: &mut Sha256, bytes: &[u8]) {
    put_len(hasher, bytes.len());
    hasher.update(bytes);
}

/// Lower-case hex of a byte string (digests, generated secrets).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// The fixtures rely on Unix symlinks and permission bits.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// A throwaway checkout: `ctx/` is the context, `Dockerfile` lives outside.
    struct Fixture {
        dir: tempfile::TempDir,
        args: BTreeMap<String, String>,
        platform: String,
    }

    impl Fixture {
        fn new() -> Self {
            let fixture = Self {
                dir: tempfile::tempdir().unwrap(),
                args: BTreeMap::new(),
                platform: "linux/amd64".to_owned(),
            };
            fixture.write("ctx/.dockerignore", "node_modules\n*.md\n!KEEP.md\n");
            fixture.write("ctx/src/app.ts", "export const x = 1;\n");
            fixture.write("ctx/src/lib/util.ts", "export {};\n");
            fixture.write("ctx/package.json", "{}\n");
            fixture.write("ctx/README.md", "docs\n");
            fixture.write("ctx/KEEP.md", "kept\n");
            fixture.write("ctx/node_modules/dep/index.js", "module.exports = 1;\n");
            fixture.write("Dockerfile", "FROM scratch\nCOPY . .\n");
            fixture
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn write(&self, rel: &str, contents: &str) {
            let path = self.path(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }

        fn hash(&self) -> ContextDigest {
            self.try_hash().unwrap()
        }

        fn try_hash(&self) -> Result<ContextDigest> {
            let context = self.path("ctx");
            let dockerfile = self.path("Dockerfile");
            hash_context(&HashSpec {
                context: &context,
                dockerfile: &dockerfile,
                build_args: &self.args,
                platform: &self.platform,
            })
        }
    }

    fn copy_tree(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            let file_type = entry.file_type().unwrap();
            if file_type.is_dir() {
                copy_tree(&entry.path(), &target);
            } else if file_type.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
            } else {
                fs::copy(entry.path(), &target).unwrap();
            }
        }
    }

    #[test]
    fn same_tree_elsewhere_gives_same_tag() {
        let a = Fixture::new();
        let b = Fixture {
            dir: tempfile::tempdir().unwrap(),
            args: BTreeMap::new(),
            platform: a.platform.clone(),
        };
        copy_tree(a.dir.path(), b.dir.path());
        assert_ne!(a.dir.path(), b.dir.path());
        assert_eq!(a.hash(), b.hash());
    }

    #[test]
    fn counts_only_included_files() {
        let fixture = Fixture::new();
        let digest = fixture.hash();
        // .dockerignore, KEEP.md, package.json, src/app.ts, src/lib/util.ts
        assert_eq!(digest.files, 5);
        assert_eq!(digest.digest.len(), 64);
        assert_eq!(&digest.digest[..12], digest.tag);
    }

    #[test]
    fn mtimes_do_not_matter() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for rel in [
            "ctx/src/app.ts",
            "ctx/package.json",
            "Dockerfile",
            "ctx/src",
        ] {
            File::open(fixture.path(rel))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        assert_eq!(before, fixture.hash());
    }

    #[test]
    fn changed_byte_in_included_file_changes_tag() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        fixture.write("ctx/src/app.ts", "export const x = 2;\n");
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn changes_in_excluded_files_do_not_matter() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        fixture.write("ctx/node_modules/dep/index.js", "module.exports = 2;\n");
        fixture.write("ctx/node_modules/new/file.js", "new\n");
        fixture.write("ctx/README.md", "other docs\n");
        fixture.write("ctx/CHANGELOG.md", "notes\n");
        assert_eq!(before, fixture.hash());
        // Like Docker, `*.md` is anchored at the context root: nested
        // Markdown files are part of the context.
        fixture.write("ctx/src/NOTES.md", "notes\n");
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn exception_reincludes_file() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        fixture.write("ctx/KEEP.md", "changed\n");
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn build_args_change_tag() {
        let mut fixture = Fixture::new();
        let before = fixture.hash();
        fixture.args.insert("NODE_ENV".into(), "production".into());
        let with_arg = fixture.hash();
        assert_ne!(before.tag, with_arg.tag);
        fixture.args.insert("NODE_ENV".into(), "development".into());
        assert_ne!(with_arg.tag, fixture.hash().tag);
    }

    #[test]
    fn platform_changes_tag() {
        let mut fixture = Fixture::new();
        let before = fixture.hash();
        fixture.platform = "linux/arm64".into();
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn exec_bit_changes_tag() {
        use std::os::unix::fs::PermissionsExt as _;
        let fixture = Fixture::new();
        let before = fixture.hash();
        let path = fixture.path("ctx/src/app.ts");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o744)).unwrap();
        let executable = fixture.hash();
        assert_ne!(before.tag, executable.tag);
        // Other permission bits are not part of the tag.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(executable, fixture.hash());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(before, fixture.hash());
    }

    #[test]
    fn symlink_target_changes_tag() {
        let fixture = Fixture::new();
        let link = fixture.path("ctx/current");
        std::os::unix::fs::symlink("src/app.ts", &link).unwrap();
        let before = fixture.hash();
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("src/lib/util.ts", &link).unwrap();
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn dockerfile_outside_context_is_hashed() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        fixture.write("Dockerfile", "FROM scratch\nCOPY src src\n");
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn dockerignore_change_changes_tag() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        // Same effective rules, different text: still a different build input.
        fixture.write(
            "ctx/.dockerignore",
            "node_modules\n*.md\n!KEEP.md\n# note\n",
        );
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn renaming_a_file_changes_tag() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        fs::rename(
            fixture.path("ctx/src/app.ts"),
            fixture.path("ctx/src/main.ts"),
        )
        .unwrap();
        assert_ne!(before.tag, fixture.hash().tag);
    }

    #[test]
    fn file_boundaries_are_unambiguous() {
        let one = Fixture::new();
        one.write("ctx/x/a", "ab");
        one.write("ctx/x/b", "c");
        let two = Fixture::new();
        two.write("ctx/x/a", "a");
        two.write("ctx/x/b", "bc");
        assert_ne!(one.hash().tag, two.hash().tag);
    }

    #[test]
    fn empty_directories_are_ignored() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        fs::create_dir_all(fixture.path("ctx/empty/nested")).unwrap();
        let after = fixture.hash();
        assert_eq!((before.digest, before.files), (after.digest, after.files));
        assert_eq!(after.dirs, before.dirs + 2, "read, but they add nothing");
    }

    #[test]
    fn missing_dockerignore_excludes_nothing() {
        let fixture = Fixture::new();
        fs::remove_file(fixture.path("ctx/.dockerignore")).unwrap();
        let digest = fixture.hash();
        // KEEP.md, README.md, package.json, src/app.ts, src/lib/util.ts and
        // node_modules/dep/index.js
        assert_eq!(digest.files, 6);
    }

    /// `levels` nested directories of `width` files each under `rel`.
    fn big_tree(fixture: &Fixture, rel: &str, levels: usize, width: usize) {
        let mut dir = fixture.path(rel);
        for level in 0..levels {
            dir = dir.join(format!("d{level}"));
            fs::create_dir_all(&dir).unwrap();
            for i in 0..width {
                fs::write(dir.join(format!("f{i}.js")), "x").unwrap();
            }
        }
    }

    #[test]
    fn a_big_excluded_tree_is_never_read() {
        let fixture = Fixture::new();
        let before = fixture.hash();
        // ctx, src, src/lib and node_modules itself (checked, not read).
        assert_eq!(before.dirs, 3, "{before:?}");
        big_tree(&fixture, "ctx/node_modules/big", 40, 25);
        fs::create_dir_all(fixture.path("ctx/.next/cache")).unwrap();
        fixture.write("ctx/.dockerignore", "node_modules\n.next\n*.md\n!KEEP.md\n");
        let with_tree = fixture.hash();
        assert_eq!(
            with_tree.dirs, 3,
            "not one directory of node_modules or .next read"
        );
        assert_eq!(with_tree.files, before.files);
        // The tree's contents do not reach the tag (only the changed .dockerignore does).
        big_tree(&fixture, "ctx/node_modules/big", 40, 26);
        assert_eq!(fixture.hash().tag, with_tree.tag);
    }

    #[test]
    fn an_exception_beneath_an_excluded_tree_is_still_honoured() {
        let fixture = Fixture::new();
        big_tree(&fixture, "ctx/node_modules/big", 10, 5);
        fixture.write("ctx/node_modules/keep/LICENSE", "MIT\n");
        fixture.write(
            "ctx/.dockerignore",
            "node_modules\n*.md\n!KEEP.md\n!node_modules/keep/LICENSE\n",
        );
        let kept = fixture.hash();
        // ctx, src, src/lib, node_modules, node_modules/keep: not node_modules/big.
        assert_eq!(kept.dirs, 5, "{kept:?}");
        assert_eq!(kept.files, 6, "{kept:?}");
        fixture.write("ctx/node_modules/keep/LICENSE", "Apache-2.0\n");
        assert_ne!(fixture.hash().tag, kept.tag);
        fixture.write("ctx/node_modules/big/d0/f0.js", "changed");
        assert_eq!(fixture.hash().dirs, 5);
    }

    #[test]
    fn context_files_are_the_hashed_ones() {
        let fixture = Fixture::new();
        let files = context_files(&fixture.path("ctx")).unwrap();
        let names: Vec<_> = files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "KEEP.md",
                "package.json",
                "src/app.ts",
                "src/lib/util.ts"
            ]
        );
        assert_eq!(names.len(), fixture.hash().files);
    }

    #[test]
    fn missing_dockerfile_is_reported() {
        let fixture = Fixture::new();
        fs::remove_file(fixture.path("Dockerfile")).unwrap();
        let message = format!("{:#}", fixture.try_hash().unwrap_err());
        assert!(message.contains("Dockerfile"), "{message}");
        assert!(message.contains("missing"), "{message}");
    }

    #[test]
    fn missing_context_is_reported() {
        let fixture = Fixture::new();
        fs::remove_dir_all(fixture.path("ctx")).unwrap();
        let message = format!("{:#}", fixture.try_hash().unwrap_err());
        assert!(message.contains("ctx"), "{message}");
        assert!(message.contains("does not exist"), "{message}");
    }

    #[test]
    fn invalid_dockerignore_is_reported() {
        let fixture = Fixture::new();
        fixture.write("ctx/.dockerignore", "ok\nbad[\n");
        let message = format!("{:#}", fixture.try_hash().unwrap_err());
        assert!(message.contains(".dockerignore"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }
}
