"""Sphinx configuration of the hdcore API reference (autodoc + numpydoc).

Build it with ``sphinx-build -W -b html docs/api <out>`` (warnings are errors, as in CI).
"""

from __future__ import annotations

import hdcore

project = "hdcore"
author = "the hdcore developers"
release = version = hdcore.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "numpydoc"]
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections already give the types
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
exclude_patterns = ["_build"]
html_theme = "alabaster"
