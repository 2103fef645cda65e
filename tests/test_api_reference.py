"""The Sphinx API reference (``docs/api``, autodoc + numpydoc) builds with warnings as errors,
and numpydoc parses every docstring without complaint (its section warnings are Python
warnings, which ``-W`` does not see, so they are checked on stderr)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("sphinx", reason="the API reference needs the test extra (sphinx, numpydoc)")
pytest.importorskip("numpydoc")

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "api"


def test_api_reference_builds_without_warnings(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS),
         str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "UserWarning" not in proc.stderr, proc.stderr[-4000:]
    pages = {p.stem: p.read_text() for p in (tmp_path / "html").glob("*.html")}
    # every package page documents its public names (not an empty automodule)
    for page, name in (("theory", "state_evolution"), ("models", "SpikedWigner"),
                       ("algorithms", "amp"), ("rmt", "ks_distance"),
                       ("ingredients", "Prior")):
        assert f'id="hdcore.{page}.{name}"' in pages[page], (page, name)
