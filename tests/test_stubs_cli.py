"""The stub file lists the extension's functions; the CLI and a study run end to end."""

import ast
from pathlib import Path

import pandas as pd

import hdcore
from hdcore import _core
from hdcore.cli import main


def test_stub_names_match_the_extension():
    stub = Path(hdcore.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
               and not n.name.startswith("_")}
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public == stubbed


def test_list_shows_the_studies(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "spiked-wigner" in out and "spiked-wishart" in out


def test_reproduce_quick_writes_figure_and_table(tmp_path, capsys):
    assert main(["reproduce", "spiked-wishart", "--quick", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "spiked-wishart.png").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "spiked-wishart.csv")
    assert {"theory", "simulation"} == set(table["kind"])
    amp_points = table[(table.series == "amp") & (table.prior == "gaussian")]
    se = table[(table.series == "se_uninformative") & (table.prior == "gaussian")]
    # Gaussian prior far above threshold: AMP points sit on the SE curve (d = 300, 2 seeds)
    hi = amp_points[amp_points.x > 1.4]
    pred = [se.iloc[(se.x - x).abs().argmin()].y for x in hi.x]
    assert abs(hi.y.to_numpy() - pred).max() < 0.1


def test_unknown_study_is_an_error(capsys):
    assert main(["reproduce", "nope"]) == 2
    assert "unknown study" in capsys.readouterr().err


def test_every_study_accepts_the_options_reproduce_passes():
    # Studies that post-process their simulations override run_simulations; reproduce passes
    # the sweep options (backend, scheduler, ...) through it, so every override must take them.
    import inspect

    from hdcore.studies import STUDIES, get_study

    options = dict(quick=True, seed=0, progress=False, backend="local", scheduler=None,
                   n_workers=None, out=None, resume=False)
    for name in STUDIES:
        try:
            inspect.signature(get_study(name).run_simulations).bind(**options)
        except TypeError as exc:
            raise AssertionError(f"{name}: {exc}") from None
