"""Type checking: `mypy -p hdcore` (configured in pyproject.toml) and the extension's stubs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]

# `mypy -p hdcore` must report no error at all (a third-party module without stubs is listed
# in pyproject.toml's ignore_missing_imports, never silenced here).


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_mypy_package():
    p = run("mypy", "-p", "hdcore", "--no-incremental", "--cache-dir", "/dev/null")
    errors = [line for line in p.stdout.splitlines() if re.match(r"^\S+\.pyi?:\d+: error:", line)]
    assert not errors, "\n".join(errors)
    assert p.returncode == 0, p.stdout + p.stderr


def test_stubtest_extension():
    p = run("mypy.stubtest", "hdcore._core", "--allowlist",
            str(ROOT / "tests" / "stubtest_allowlist.txt"))
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]


def test_readme_example_type_checks(tmp_path):
    # the README's first Python example, as a user's script
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(import hdcore\n.*?)```", readme, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(block)
    # check the user's script only: the package's own errors are test_mypy_package's business
    p = run("mypy", "--no-incremental", "--cache-dir", "/dev/null", "--follow-imports=silent",
            str(script))
    assert p.returncode == 0, p.stdout + p.stderr
