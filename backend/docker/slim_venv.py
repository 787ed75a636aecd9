"""Shrinks the images' virtualenv in the build stage, after the dependencies are installed.

    python slim_venv.py /opt/venv

The runtime root filesystem is read-only, so Python cannot cache bytecode there: every module
must ship compiled, or each start compiles all of them again. Shipping the source beside its
compiled form stores each module twice, so third-party modules are kept once, as bytecode in the
source's place (a sourceless import; tracebacks still name the file and line). Kept as source,
with their compiled form in `__pycache__`:

- the project's own package, `todo_backend` (alembic loads its migrations from `.py` files, and
  its tracebacks keep their code lines); it is installed after this script runs;
- modules that read their own source when imported: anyio builds its lazy-import table from
  its `__init__.py`, and without the source it would import every submodule at once.

Also removed: the test suites some packages ship inside themselves, and the installers' RECORD
files (only an uninstall reads them, and nothing is uninstalled from an image). Native libraries
that carry a symbol table or debug information are stripped with `strip --strip-unneeded`; those
without either are left byte for byte (among them the auditwheel-repaired ones under `*.libs/`,
which are already stripped and whose patched headers are best left alone).
"""

from __future__ import annotations

import os
import py_compile
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# Directories inside a package that hold its own test suite, never imported by the package.
TEST_DIRS = {"tests", "benchmarks"}
# A module that calls this reads its own source when imported (anyio's lazy importer).
READS_OWN_SOURCE = re.compile(r"(?<!def )\binstall_lazy_importer\(\)")


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise SystemExit(f"slim_venv: expected one site-packages under {venv}, found {found}")
    return found[0]


def compile_once(source: str) -> str | None:
    """Compiles one module; returns an error message instead of raising."""
    path = Path(source)
    try:
        if READS_OWN_SOURCE.search(path.read_text(encoding="utf-8", errors="replace")):
            py_compile.compile(source, doraise=True)
            return None
        # Beside the source, the compiled file is what imports find once the source is gone;
        # tracebacks keep naming the source's path.
        py_compile.compile(source, cfile=source + "c", doraise=True)
    except py_compile.PyCompileError as exc:
        return f"{source}: {exc.msg.strip()}"
    path.unlink()
    return None


def strippable(path: Path) -> bool:
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=False)
    return out.returncode == 0 and (".symtab" in out.stdout or ".debug_" in out.stdout)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    site = site_packages(Path(argv[0]))
    before = tree_size(site)

    sources: list[str] = []
    native: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(site):
        here = Path(dirpath)
        for name in list(dirnames):
            # Inside a package only: a top-level `tests` would be a distribution of its own.
            if name == "__pycache__" or (name in TEST_DIRS and here != site):
                shutil.rmtree(here / name)
                dirnames.remove(name)
        if here.name.endswith(".dist-info"):
            (here / "RECORD").unlink(missing_ok=True)
            continue
        for name in filenames:
            if name.endswith(".py"):
                sources.append(str(here / name))
            elif name.endswith(".so") or ".so." in name:
                native.append(here / name)

    with ProcessPoolExecutor() as pool:
        errors = [e for e in pool.map(compile_once, sources, chunksize=64) if e]
    # A file that does not compile cannot have been imported either (e.g. a template with a .py
    # name); it stays as it was.
    for error in errors:
        print(f"slim_venv: kept as source, does not compile: {error}", file=sys.stderr)

    stripped = [p for p in native if strippable(p)]
    if stripped:
        subprocess.run(["strip", "--strip-unneeded", *map(str, stripped)], check=True)

    after = tree_size(site)
    print(
        f"slim_venv: {len(sources) - len(errors)} modules kept once, {len(stripped)} native libraries stripped; "
        f"site-packages {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB"
    )
    return 0


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
