"""What a library user meets: the version, matplotlib left alone, the study API."""

import subprocess
import sys

import hdcore


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    assert hdcore.__version__ == version("hdcore")


def test_importing_and_drawing_leave_the_matplotlib_backend_alone():
    # A notebook's inline backend must survive `import hdcore.plotting` and a study figure;
    # run in a fresh interpreter with a non-default backend chosen by the "user".
    code = """
import matplotlib
matplotlib.use("svg")
before = matplotlib.get_backend()
import hdcore, hdcore.plotting, hdcore.studies
study = hdcore.studies.get_study("spiked-wigner")
import sys
fig, axes = hdcore.plotting.subplots(1, 2)
with hdcore.plotting.style():
    axes[0].plot([0, 1], [0, 1])
assert type(fig).__name__ == "Figure"
print(before, matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    before, after, pyplot = p.stdout.split()
    assert before == after == "svg"
    assert pyplot == "False"  # no pyplot global state either


def test_study_figure_is_a_plain_figure_and_keeps_the_backend(tmp_path):
    import matplotlib

    from hdcore.studies import get_study

    before = matplotlib.get_backend()
    study = get_study("spiked-wishart")
    out = study.reproduce(tmp_path, quick=True, progress=False)
    assert matplotlib.get_backend() == before
    assert out.figure_path.stat().st_size > 10_000
    fig = study.figure(out.theory, out.simulation)
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    assert fig.canvas.manager is None  # not registered with pyplot: nothing to close
