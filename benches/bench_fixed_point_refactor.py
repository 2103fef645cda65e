"""Before/after of the fixed-point refactor (issue 12), side by side in one process.

The pre-engine solvers are read from git (commit b994f61: ``theory/erm.py`` with its private
Anderson loop, ``theory/low_rank.py`` with its plain loop) into a temporary package and timed
interleaved with the current ones (best of 5), on the robust-regression 100-alpha curve (Huber,
Tukey, ridge 0.1) and on 40 Gaussian-prior spiked-Wigner state evolutions (a closed-form map of
about 3 us per evaluation: the engine's own overhead is what shows there).

Usage: ``python benches/bench_fixed_point_refactor.py`` (from a git checkout)
"""
import os
import subprocess
import tempfile

_old = tempfile.mkdtemp()
os.makedirs(os.path.join(_old, "oldtheory"))
open(os.path.join(_old, "oldtheory", "__init__.py"), "w").close()
for _f in ("erm", "low_rank"):
    with open(os.path.join(_old, "oldtheory", _f + ".py"), "w") as fh:
        fh.write(subprocess.run(["git", "show", f"b994f61:python/hdcore/theory/{_f}.py"], check=True,
                                capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout)
import sys, time, numpy as np
sys.path.insert(0, _old)
from dataclasses import replace
from oldtheory import erm as old_erm, low_rank as old_lr
from hdcore.theory import erm as new_erm, low_rank as new_lr
from hdcore.models import ContaminatedRegression, SpikedWigner
NOISE = dict(eps=0.1, delta_in=0.1, delta_out=1.0, beta=0.0)
alphas = np.geomspace(0.5, 100, 100)
def curve(mod, loss):
    n = 0
    for a in alphas:
        n += mod.erm_fixed_point(ContaminatedRegression(d=100, alpha=float(a), **NOISE), loss, lam=0.1).n_iter
    return n
def se(mod):
    n = 0
    for s in np.linspace(0.2, 2, 40):
        n += mod.state_evolution(SpikedWigner(n=10, snr=float(s), prior="gaussian")).n_iter
    return n
res = {}
for rep in range(5):
    for name, mod in (("old", old_erm), ("new", new_erm)):
        for loss in ("huber(1.0)", "tukey(2.0)"):
            t = time.perf_counter(); n = curve(mod, loss); dt = time.perf_counter() - t
            res.setdefault((name, loss), []).append((dt, n))
    for name, mod in (("old", old_lr), ("new", new_lr)):
        t = time.perf_counter(); n = se(mod); dt = time.perf_counter() - t
        res.setdefault((name, "SE gaussian 40 snr"), []).append((dt, n))
for k, v in res.items():
    print(k, "min %.3f s" % min(x[0] for x in v), "iters", v[0][1])
