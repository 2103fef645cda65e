"""The studies of the GLM / multi-index slice run end to end (quick mode) and write PNG + CSV."""

import pandas as pd
import pytest

from hdcore.cli import main
from hdcore.studies import list_studies


@pytest.mark.parametrize("name", ["glm", "multi-index-spectral"])
def test_quick_study_writes_figure_and_table(name, tmp_path):
    assert name in list_studies()
    assert main(["reproduce", name, "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / f"{name}.csv")
    assert set(table["kind"]) == {"theory", "simulation"}
    assert table["y"].notna().any()
    if name == "multi-index-spectral":
        # the spectrum of L is part of the table, and the thresholds are marked
        assert (table["series"] == "spectrum_L").sum() == 1600
        ac = table[table["series"] == "alpha_c"].set_index("link")["x"]
        assert ac["square"] == pytest.approx(0.5, abs=1e-6)
        assert ac["z1*z2"] == pytest.approx(0.59375, abs=1e-4)
