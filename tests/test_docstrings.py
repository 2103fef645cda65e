"""Docstrings of the public API: numpydoc ``Parameters`` / ``Returns`` sections on every public
function of ``hdcore.theory``, ``hdcore.algorithms``, ``hdcore.models`` and ``hdcore.rmt``, and
the doctests of the functions documented with examples."""

from __future__ import annotations

import doctest
import inspect
import sys

import pytest

import hdcore.algorithms
import hdcore.models
import hdcore.rmt
import hdcore.theory

MODULES = (hdcore.theory, hdcore.algorithms, hdcore.models, hdcore.rmt)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _public_functions():
    out = []
    for mod in MODULES:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.ismodule(obj) or not callable(obj):
                continue
            out.append(pytest.param(obj, id=f"{mod.__name__.split('.')[-1]}.{name}"))
    return out


def _has_section(doc: str, title: str) -> bool:
    lines = doc.splitlines()
    return any(line.strip() == title and nxt.strip().startswith("---")
               for line, nxt in zip(lines, lines[1:]))


@pytest.mark.parametrize("func", _public_functions())
def test_numpydoc_sections(func):
    doc = inspect.getdoc(func) or ""
    missing = [s for s in ("Parameters", "Returns") if not _has_section(doc, s)]
    assert not missing, f"{func.__qualname__} lacks numpydoc section(s) {missing}"


#: functions whose Examples sections are run here (``module.name`` as exported)
DOCTESTED = (
    "theory.state_evolution theory.bbp theory.algorithmic_threshold theory.fixed_points "
    "theory.free_entropy theory.information_theoretic_threshold theory.gamp_fixed_points "
    "theory.gamp_state_evolution theory.glm_free_entropy theory.glm_thresholds "
    "theory.spectral_prediction theory.weak_recovery_threshold "
    "theory.perfect_recovery_threshold theory.ridge_closed_form theory.gardner_capacity "
    "theory.max_margin theory.separability_threshold theory.donoho_tanner_rho "
    "theory.donoho_tanner_alpha theory.attention_landscape theory.population_loss_derivatives "
    "theory.sequence_information_exponent algorithms.pca algorithms.spherical_denoiser "
    "algorithms.asymmetric_spectral algorithms.symmetric_spectral algorithms.asymmetric_spectrum "
    "algorithms.ridge algorithms.one_step algorithms.ridge_readout algorithms.feature_spectrum "
    "theory.one_step_test_error theory.rf_ridge_test_error rmt.eigh rmt.empirical_stieltjes rmt.ks_distance rmt.svd"
).split()


def _exported(qualified: str):
    mod, name = qualified.split(".")
    return getattr(getattr(hdcore, mod), name)


@pytest.mark.parametrize("qualified", DOCTESTED)
def test_doctest(qualified):
    func = _exported(qualified)
    doc = inspect.getdoc(func) or ""
    assert _has_section(doc, "Examples"), f"{qualified} has no Examples section"
    assert _has_section(doc, "References"), f"{qualified} has no References section"
    # the examples run in the namespace of the defining module (as ``python -m doctest`` would)
    module = sys.modules[inspect.unwrap(func).__module__]
    globs = dict(vars(module))
    test = doctest.DocTestParser().get_doctest(func.__doc__ or "", globs, qualified,
                                               module.__file__, 0)
    assert test.examples, f"{qualified}: no doctest examples"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    runner.run(test, out=out.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(out)
