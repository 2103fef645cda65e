# %% [markdown]
# # hdcore in a notebook
#
# A notebook-style script (cells separated by `# %%`; open it in Jupyter with jupytext, or in
# VS Code / Spyder as cells). It runs top to bottom in well under a minute with the quick
# settings, and is executed by the test suite (`tests/test_user_surface.py`).
#
# hdcore never changes the matplotlib backend: in Jupyter the figures below display inline
# as the value of their cell.

# %%
import hdcore
import hdcore.studies

print(hdcore.__version__)

# %% [markdown]
# ## One model, one algorithm, its theory
#
# Spiked Wigner model `Y = (snr/n) x x^T + W/sqrt(n)` with a Rademacher spike; Bayes AMP and its
# state evolution.

# %%
model = hdcore.models.SpikedWigner(n=2000, snr=1.5, prior="rademacher")
sample = model.sample(seed=0)
result = hdcore.algorithms.amp(sample)
pred = hdcore.theory.state_evolution(model)
result  # a compact summary: traces as dtype, shape and end values

# %%
print(f"AMP cosine^2 {result.final_cosine2:.3f}, state evolution {pred.fixed_point:.3f}")
traces = result.to_dataframe()  # one row per iteration
traces.tail()

# %% [markdown]
# Results save to one `.npz` file and load back with `hdcore.load`.

# %%
import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as tmp:
    path = result.save(Path(tmp) / "amp-run")  # -> amp-run.npz
    again = hdcore.load(path)
assert (again.cosine2 == result.cosine2).all()

# %% [markdown]
# ## A study: theory curves and simulations on one figure
#
# `hdcore.studies.get(name)` returns the study; `theory()`, `run_simulations()`, `figure()` and
# `table()` are the four steps `hdcore reproduce NAME` runs. `quick=True` uses small sizes and
# two seeds; `n_workers=1` runs the simulations in this process.

# %%
print(hdcore.studies.list_studies())
study = hdcore.studies.get("spiked-wigner")
theory = study.theory(quick=True)
runs = study.run_simulations(quick=True, progress=False, n_workers=1)
runs.head()

# %%
fig = study.figure(theory, runs)
fig  # displayed inline in Jupyter; fig.savefig("spiked-wigner.png") writes it

# %%
table = study.table(theory, runs)  # the content of spiked-wigner.csv (docs/data_dictionary.md)
table.head()
