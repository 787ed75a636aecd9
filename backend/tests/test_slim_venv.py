"""docker/slim_venv.py, which the image builds run on their virtualenv, on a small stand-in venv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "docker" / "slim_venv.py"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_each_module_is_kept_once_and_still_imports(tmp_path):
    site = tmp_path / "venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    write(site / "pkg" / "__init__.py", "from pkg.mod import VALUE\n")
    write(site / "pkg" / "mod.py", "VALUE = 42\n")
    write(site / "pkg" / "tests" / "test_pkg.py", "def test(): pass\n")
    write(site / "pkg" / "template.py", "this is { not python\n")
    write(site / "pkg-1.0.dist-info" / "METADATA", "Name: pkg\nVersion: 1.0\n")
    write(site / "pkg-1.0.dist-info" / "RECORD", "pkg/__init__.py,,\n")
    # A package that reads its own source when imported, as anyio's lazy importer does.
    write(
        site / "lazy" / "__init__.py",
        "import inspect, sys\n"
        "def install_lazy_importer():\n"
        "    return 'VALUE' in inspect.getsource(sys.modules[__name__])\n"
        "VALUE = 1\n"
        "READ_ITS_SOURCE = install_lazy_importer()\n",
    )

    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "venv")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "kept as source, does not compile" in out.stderr and "template.py" in out.stderr

    assert sorted(p.name for p in (site / "pkg").iterdir()) == ["__init__.pyc", "mod.pyc", "template.py"]
    assert not (site / "pkg-1.0.dist-info" / "RECORD").exists()
    assert (site / "pkg-1.0.dist-info" / "METADATA").exists()
    assert (site / "lazy" / "__init__.py").exists()
    assert list((site / "lazy" / "__pycache__").glob("__init__.*.pyc"))

    check = (
        f"import sys; sys.path.insert(0, {str(site)!r}); import pkg, pkg.mod, lazy;"
        "print(pkg.VALUE, pkg.mod.__file__.endswith('mod.pyc'), lazy.READ_ITS_SOURCE)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.stdout.split() == ["42", "True", "True"], result.stderr
