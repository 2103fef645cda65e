"""Issue 21: a hypothesis fuzz of the whole binding layer.

Every ``#[pyfunction]`` in ``rust/python/src`` (found by parsing the sources; their signatures
come from ``python/hdcore/_core.pyi``) and the public Python wrappers that call them are called
with hostile arguments: arrays of shape 0/1/moderate, dtypes int/bool/complex/float16/32/64/
object, Fortran/strided/read-only/transposed layouts, NaN/inf/-0.0/1e308/denormal values,
parameters negative/zero/NaN/huge/of the wrong type, and callbacks that return garbage or raise.

Property: each call returns, or raises ValueError, TypeError, MemoryError, OverflowError (PyO3's
documented refusal of an int outside the C integer range) or an ``hdcore.HdcoreError`` other
than ``InternalError`` (a panic is a bug). Each group of entry points runs in its own Python
subprocess so an abort, a segfault or a hang fails the test instead of killing pytest; the
subprocess reports JSON (examples run per entry point, failures).

Profiles: ``ci`` (default; derandomized, bounded examples, whole file < 60 s on 2 cores) and
``long`` (``HDCORE_FUZZ_PROFILE=long python -m pytest -q tests/test_fuzz_bindings.py``).
``HDCORE_FUZZ_REPORT=path.json`` writes the per-entry-point counts there.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUST_SRC = ROOT / "rust" / "python" / "src"
STUB = ROOT / "python" / "hdcore" / "_core.pyi"

PROFILES = {"ci": dict(max_examples=15, timeout=120), "long": dict(max_examples=600, timeout=3600)}
PROFILE = os.environ.get("HDCORE_FUZZ_PROFILE", "ci")

# entry points left out of the raw fuzz, with the reason
SKIP = {
    "_panic_for_test": "panics on purpose (tests/test_reliability.py)",
    "read_bandwidth_probe": "a timing loop; sizes only (tests/test_reliability.py)",
    "sgd_rng_throughput": "a timing loop; sizes only (tests/test_reliability.py)",
}


def rust_pyfunctions() -> dict[str, str]:
    """Python name -> source file stem of every #[pyfunction]."""
    out = {}
    for path in sorted(RUST_SRC.glob("*.rs")):
        text = path.read_text()
        for m in re.finditer(r"#\[pyfunction\]((?:\s*#\[[^\]]*\])*)\s*(?:pub\s+)?fn\s+(\w+)", text):
            attrs, name = m.group(1), m.group(2)
            alias = re.search(r'name\s*=\s*"(\w+)"', attrs)
            out[alias.group(1) if alias else name] = path.stem
    return out


def stub_signatures() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(STUB.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def groups() -> dict[str, list[str]]:
    g: dict[str, list[str]] = {}
    for name, stem in rust_pyfunctions().items():
        if name not in SKIP:
            g.setdefault(stem, []).append(name)
    g["wrappers"] = ["<python wrappers>"]
    return g


def test_every_pyfunction_has_a_stub_and_is_fuzzed():
    funcs = rust_pyfunctions()
    assert len(funcs) > 50
    stubs = stub_signatures()
    missing = sorted(set(funcs) - set(stubs))
    assert not missing, f"#[pyfunction]s without a stub (not fuzzed): {missing}"


@pytest.mark.parametrize("group", sorted(groups()))
def test_fuzz_group(group, tmp_path):
    prof = PROFILES[PROFILE]
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, __file__, group, PROFILE, str(out)],
        capture_output=True, text=True, timeout=prof["timeout"], cwd=str(ROOT))
    assert proc.returncode == 0, (
        f"fuzz subprocess for {group} died (rc={proc.returncode}): abort/segfault/hang\n"
        + proc.stdout[-3000:] + proc.stderr[-3000:])
    report = json.loads(out.read_text())
    dest = os.environ.get("HDCORE_FUZZ_REPORT")
    if dest:
        allrep = json.loads(Path(dest).read_text()) if Path(dest).exists() else {}
        allrep.update(report)
        Path(dest).write_text(json.dumps(allrep, indent=1, sort_keys=True))
    bad = {k: v["failures"] for k, v in report.items() if v["failures"]}
    assert not bad, json.dumps(bad, indent=1)[:6000]
    for k, v in report.items():
        assert v["examples"] > 0, k


# ----------------------------------------------------------------------------------------------
# the worker (runs in the subprocess)

def _worker(group: str, profile: str, out_path: str) -> None:  # noqa: C901
    import faulthandler
    import math
    import warnings

    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import hdcore
    from hdcore import _core

    faulthandler.enable()
    warnings.simplefilter("ignore")
    settings.register_profile(
        "ci", derandomize=True, max_examples=PROFILES["ci"]["max_examples"], deadline=None,
        database=None, suppress_health_check=list(HealthCheck), print_blob=False)
    settings.register_profile(
        "long", max_examples=PROFILES["long"]["max_examples"], deadline=None, database=None,
        suppress_health_check=list(HealthCheck))
    settings.load_profile(profile)

    ALLOWED = (ValueError, TypeError, MemoryError, OverflowError, hdcore.HdcoreError)

    SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, math.nan, math.inf, -math.inf, 1e308, -1e308,
               5e-324, 1e-310, 1e-300, 3.0, 1e6]
    SHAPES = [(), (0,), (1,), (2,), (3,), (4,), (6,), (0, 0), (1, 1), (2, 2), (3, 3), (4, 4),
              (2, 3), (3, 2), (4, 2), (2, 4), (2, 2, 2), (1, 0), (0, 3)]
    DTYPES = ["float64", "float64", "float64", "float32", "float16", "int64", "int32", "bool",
              "complex128", "object", "uint8"]
    LAYOUTS = ["C", "C", "F", "strided", "readonly", "transposed", "list", "scalar"]

    @st.composite
    def arrays(draw):
        shape = draw(st.sampled_from(SHAPES))
        dtype = draw(st.sampled_from(DTYPES))
        layout = draw(st.sampled_from(LAYOUTS))
        kind = draw(st.sampled_from(["normal", "special", "symmetric", "eye", "ones"]))
        size = int(np.prod(shape)) if shape else 1
        seed = draw(st.integers(0, 2**16))
        rng = np.random.default_rng(seed)
        if kind == "normal":
            v = rng.standard_normal(size)
        elif kind == "special":
            v = np.array([draw(st.sampled_from(SPECIAL)) for _ in range(size)], dtype=float)
        else:
            v = (rng.standard_normal(size) if kind == "symmetric" else np.ones(size))
        a = v.reshape(shape) if shape else v.reshape(())
        if kind == "symmetric" and a.ndim == 2 and a.shape[0] == a.shape[1]:
            a = (a + a.T) / 2
        if kind == "eye" and a.ndim == 2:
            a = np.eye(a.shape[0], a.shape[1])
        with np.errstate(all="ignore"):
            if dtype == "object":
                a = a.astype(object)
            elif dtype == "complex128":
                a = a.astype(complex) + 1j
            elif dtype in ("int64", "int32", "uint8"):
                a = np.nan_to_num(a, nan=0, posinf=1, neginf=-1).clip(-100, 100).astype(dtype)
            else:
                a = a.astype(dtype)
        if layout == "F":
            a = np.asfortranarray(a)
        elif layout == "strided" and a.ndim >= 1:
            big = np.repeat(a, 2, axis=0)
            a = big[::2]
        elif layout == "readonly":
            a = np.array(a)
            a.setflags(write=False)
        elif layout == "transposed" and a.ndim == 2:
            a = a.T
        elif layout == "list":
            return a.tolist()
        elif layout == "scalar":
            return draw(st.sampled_from([1.0, math.nan, None, "x", 3]))
        return a

    def ints(big_ok: bool):
        base = [st.integers(0, 6), st.integers(-3, 8), st.sampled_from([0, 1, 2, 3, 4])]
        if big_ok:
            base.append(st.sampled_from([2**40, 2**48, 2**62, 2**63, 2**64, 10**30,
                                         -(2**63)]))
        base.append(st.sampled_from([1.5, math.nan, "3", None, True, -1]))
        return st.one_of(*base)

    floats = st.one_of(st.sampled_from(SPECIAL), st.floats(-10, 10),
                       st.sampled_from([None, "1.0", 2, True, [1.0]]))
    NAMES = {
        "name": ["gaussian", "rademacher", "sparse_rademacher", "gauss_bernoulli", "binary",
                 "exponential", "positive", "laplace", "bogus", ""],
        "prior_name": ["gaussian", "rademacher", "sparse_rademacher", "gauss_bernoulli", "bogus"],
        "prior_kind": ["wishart", "product", "bogus"],
        "kind": ["semicircle", "marchenko_pastur", "mp_semicircle", "rect_product", "quadratic",
                 "gaussian_symmetric", "gaussian_rect", "bogus"],
        "law_kind": ["semicircle", "marchenko_pastur", "mp_semicircle", None, "bogus"],
        "link": ["sign", "relu", "linear", "abs", "committee_sign", "bogus"],
        "loss_name": ["square", "absolute", "huber", "logistic", "hinge", "bogus"],
        "dtype": ["float64", "float32", "float16", "bfloat16", "bogus"],
        "mode": ["full", "reduced", "bogus"],
        "where_": ["binding"],
    }
    BIG_INTS = {"n", "d", "d1", "d2", "m", "p", "k", "rows", "cols", "r", "width", "ncv",
                "packed_n", "start", "stop", "n_nodes", "history", "domain", "seed",
                "design_seed", "init_seed", "run_index", "n_threads", "batch"}

    def strategy_for(arg: ast.arg, default):
        name = arg.arg
        ann = ast.unparse(arg.annotation) if arg.annotation is not None else ""
        if name in NAMES:
            s = st.sampled_from(NAMES[name])
        elif name == "name":
            s = st.sampled_from(NAMES["name"])
        elif "Callable" in ann:
            s = st.sampled_from([
                lambda v: v, lambda v: 2.0 * np.asarray(v), lambda v: np.full_like(v, np.nan),
                lambda v: np.zeros(1), lambda v: "garbage", lambda v: None,
                lambda v: (_ for _ in ()).throw(ValueError("callback failed"))])
        elif "dict" in ann:
            s = st.sampled_from([{}, {"kind": "ssi", "L": 1, "target": "z1"},
                                 {"L": 2, "student": "ssi"}, {"L": -1}, {"L": "x"}, None])
        elif name == "dims":
            # exactly four sizes most of the time, some of them huge (the size check)
            s = st.lists(ints(True), min_size=3, max_size=5)
        elif name == "priors":
            s = st.one_of(st.lists(st.sampled_from(NAMES["prior_name"]), min_size=3, max_size=5),
                          st.lists(floats, max_size=4))
        elif ann.startswith("list[int]"):
            s = st.lists(ints(False), max_size=4)
        elif ann.startswith("list"):
            s = st.lists(floats, max_size=4)
        elif ann.startswith("str"):
            s = st.sampled_from(["", "bogus", "float64"])
        elif "F64" in ann or "Matrix" in ann or "NDArray" in ann:
            s = arrays()
        elif ann.startswith("bool"):
            s = st.sampled_from([True, False, 0, 1, None, "yes"])
        elif ann.startswith("int"):
            s = ints(name in BIG_INTS)
        elif ann.startswith("float"):
            s = floats
        else:
            s = st.one_of(floats, arrays())
        if name in ("n_iter", "max_iter", "steps", "n_steps", "max_restarts", "repeats",
                    "n_restarts", "record_every", "n_inits", "n"):
            # bounded work: iteration counts stay small, never huge (huge sizes are tried
            # through the size parameters)
            if name != "n":
                s = st.one_of(st.integers(-2, 30), st.sampled_from([math.nan, None, "5"]))
        if default is not ast and default is not None:
            return st.one_of(st.just(_DEFAULT), s)
        return s

    _DEFAULT = object()
    stubs = stub_signatures()
    report: dict[str, dict] = {}

    def fuzz_callable(label, fn, arg_strats: list, kw_strats: dict):
        rec = {"examples": 0, "failures": []}
        report[label] = rec

        @given(st.data())
        def run(data):
            args = [data.draw(s) for s in arg_strats]
            kw = {}
            for k, s in kw_strats.items():
                v = data.draw(s)
                if v is not _DEFAULT:
                    kw[k] = v
            args = [a for a in args]
            rec["examples"] += 1
            print(label, repr(args)[:300], repr(kw)[:300], flush=True, file=sys.stderr)
            try:
                fn(*args, **kw)
            except hdcore.InternalError as e:
                _fail(rec, "InternalError", e, args, kw)
            except ALLOWED:
                pass
            except BaseException as e:  # noqa: BLE001
                _fail(rec, type(e).__name__, e, args, kw)

        run()

    def _fail(rec, kind, e, args, kw):
        if len(rec["failures"]) < 5:
            rec["failures"].append({"error": kind, "message": str(e)[:300],
                                    "args": repr(args)[:400], "kwargs": repr(kw)[:400]})

    if group != "wrappers":
        for fname in groups()[group]:
            node = stubs[fname]
            a = node.args
            pos = a.posonlyargs + a.args
            defaults = [ast] * (len(pos) - len(a.defaults)) + list(a.defaults)
            arg_strats, kw_strats = [], {}
            for arg, d in zip(pos, defaults):
                if d is ast:
                    arg_strats.append(strategy_for(arg, ast))
                else:
                    kw_strats[arg.arg] = strategy_for(arg, d)
            for arg, d in zip(a.kwonlyargs, a.kw_defaults):
                kw_strats[arg.arg] = strategy_for(arg, d if d is not None else ast)
            fuzz_callable(f"_core.{fname}", getattr(_core, fname), arg_strats, kw_strats)
    else:
        _fuzz_wrappers(fuzz_callable, arrays, ints, floats, st, np)

    Path(out_path).write_text(json.dumps(report, indent=1))


def _fuzz_wrappers(fuzz_callable, arrays, ints, floats, st, np):
    """The public Python API entry points that reach _core."""
    import hdcore
    from hdcore import algorithms as A
    from hdcore import linalg, rmt
    from hdcore import models as M

    small = st.one_of(st.integers(-2, 6), st.sampled_from([2**40, 2**63, 1.5, None, "3"]))
    seeds = st.one_of(st.integers(0, 5), st.sampled_from([-1, 2**64, None, 1.5, "s"]))
    priors = st.sampled_from(["gaussian", "rademacher", "sparse_rademacher(0.3)", "bogus", 3])

    fuzz_callable("rmt.eigh", rmt.eigh, [arrays()], {})
    fuzz_callable("rmt.svd", rmt.svd, [arrays()], {})
    fuzz_callable("rmt.empirical_stieltjes", rmt.empirical_stieltjes, [arrays(), floats], {})
    fuzz_callable("linalg.matvec", linalg.matvec, [arrays(), arrays()],
                  {"transpose": st.booleans()})
    fuzz_callable("linalg.pack_symmetric", linalg.pack_symmetric, [arrays()], {})
    fuzz_callable("linalg.top_eigenpairs", linalg.top_eigenpairs, [arrays()],
                  {"k": small, "gram": st.booleans()})
    fuzz_callable("rmt.Semicircle.density",
                  lambda s, x: rmt.Semicircle(s).density(x), [floats, arrays()], {})
    fuzz_callable("rmt.MarchenkoPastur.stieltjes",
                  lambda a, z: rmt.MarchenkoPastur(a).stieltjes(z), [floats, arrays()], {})

    def wigner(n, snr, prior, seed, dtype, storage):
        return M.SpikedWigner(n=n, snr=snr, prior=prior).sample(seed, dtype=dtype,
                                                                 storage=storage)
    fuzz_callable("models.SpikedWigner.sample", wigner,
                  [small, floats, priors, seeds,
                   st.sampled_from(["float64", "float32", "bfloat16", "x"]),
                   st.sampled_from(["full", "packed", "x"])], {})

    def wishart(d, alpha, beta, seed):
        return M.SpikedWishart(d=d, alpha=alpha, beta=beta).sample(seed)
    fuzz_callable("models.SpikedWishart.sample", wishart, [small, floats, floats, seeds], {})

    def multi(d, alpha, p, link, seed):
        return M.MultiIndex(d=d, alpha=alpha, p=p, link=link).sample(seed)
    fuzz_callable("models.MultiIndex.sample", multi,
                  [small, floats, small, st.sampled_from(["sign", "relu", "bogus"]), seeds], {})

    def contam(d, alpha, eps, seed):
        return M.ContaminatedRegression(d=d, alpha=alpha, eps=eps, delta_in=1.0,
                                        delta_out=2.0).sample(seed)
    fuzz_callable("models.ContaminatedRegression.sample", contam,
                  [small, floats, floats, seeds], {})

    def sensing(d, alpha, prior, kind, seed):
        return M.MatrixSensing(d1=d, d2=d, alpha=alpha, prior=prior, sensing=kind).sample(seed)
    fuzz_callable("models.MatrixSensing.sample", sensing,
                  [small, floats, st.sampled_from(["wishart(0.5)", "product(0.5)", "x"]),
                   st.sampled_from(["quadratic", "gaussian", "x"]), seeds], {})

    def amp(n, snr, n_iter, damping):
        s = M.SpikedWigner(n=6, snr=2.0).sample(0)
        return A.amp(s, n_iter=n_iter, damping=damping)
    fuzz_callable("algorithms.amp", amp, [small, floats, st.integers(-2, 20), floats], {})

    def erm(loss, lam, seed):
        s = M.ContaminatedRegression(d=4, alpha=2.0, eps=0.1, delta_in=1.0,
                                     delta_out=2.0).sample(0)
        return A.erm(s, loss, lam, seed=seed, max_iter=50)
    fuzz_callable("algorithms.erm", erm,
                  [st.sampled_from(["square", "huber", "absolute", "bogus", 3]), floats, seeds],
                  {})

    def lasso(lam1, lam2, tol, seed):
        s = M.MultiIndex(d=6, alpha=0.5, p=1, link="linear", prior="gauss_bernoulli(0.3)",
                         noise=0.1).sample(seed)
        return A.lasso(s, lam1, lam2=lam2, tol=tol, max_sweeps=200)
    fuzz_callable("algorithms.lasso", lasso, [floats, floats, floats, seeds], {})

    def sgd(lr, steps, mode):
        model = M.SequenceSingleIndex(d=8, L=1, target="z1")
        return A.online_sgd(model, "ssi", lr, steps, seed=0, mode=mode, record=5)
    fuzz_callable("algorithms.online_sgd", sgd,
                  [floats, st.integers(-2, 40), st.sampled_from(["full", "reduced", "x"])], {})

    def fgd(lr, n_steps, width):
        s = M.MatrixSensing(d1=4, d2=4, alpha=2.0, prior="wishart(0.5)",
                            sensing="gaussian").sample(0)
        return A.factorised_gd(s, lr=lr, n_steps=n_steps, width=width)
    fuzz_callable("algorithms.factorised_gd", fgd,
                  [floats, st.integers(-2, 40), small], {})

    def nn_gamp(lam, psd, damping, n_iter, kind):
        s = M.MatrixSensing(d1=5, d2=5, alpha=1.0, prior="wishart(0.5)", sensing=kind,
                            noise=0.1).sample(0)
        return A.nuclear_norm_gamp(s, lam=lam, psd=psd, damping=damping, n_iter=n_iter)
    fuzz_callable("algorithms.nuclear_norm_gamp", nn_gamp,
                  [floats, st.sampled_from([True, False, 1, "yes", None]), floats,
                   st.one_of(st.integers(-2, 40), st.sampled_from([1.5, None])),
                   st.sampled_from(["quadratic", "gaussian"])], {})

    def nn_fista(lam, step, decay, n_iter, kind):
        s = M.MatrixSensing(d1=5, d2=5, alpha=1.0, prior="wishart(0.5)", sensing=kind,
                            noise=0.1).sample(0)
        return A.nuclear_norm(s, lam=lam, step=step, decay=decay, n_iter=n_iter)
    fuzz_callable("algorithms.nuclear_norm", nn_fista,
                  [st.one_of(floats, st.none()), st.one_of(floats, st.none()), floats,
                   st.one_of(st.integers(-2, 40), st.sampled_from([1.5, None])),
                   st.sampled_from(["quadratic", "gaussian"])], {})

    def one_step_net(d, alpha0, eta, act, seed):
        return A.one_step(M.OneStepNetwork(d=d, p=d, alpha0=alpha0, eta=eta, activation=act),
                          seed=seed)
    fuzz_callable("algorithms.one_step", one_step_net,
                  [small, floats, floats, st.sampled_from(["tanh", "relu", "bogus", 3]), seeds],
                  {})

    def readout(n, lam, seed):
        s = M.OneStepNetwork(d=5, p=4, alpha0=2.0, eta=1.0).sample(0)
        return A.ridge_readout(s, n, lam, seed, n_test=20)
    fuzz_callable("algorithms.ridge_readout", readout, [small, floats, seeds], {})

    def srf_spectrum(r, c, gamma, n, k):
        m = M.SpikedRandomFeatures(d=6, p=5, r=r, c=c, gamma=gamma)
        return A.feature_spectrum(m, n, seed=0, k=k)
    fuzz_callable("algorithms.feature_spectrum", srf_spectrum,
                  [floats, floats, floats, small, small], {})

    from hdcore.algorithms.nuclear_norm_gamp import spectral_soft_threshold
    fuzz_callable("algorithms.nuclear_norm_gamp.spectral_soft_threshold",
                  lambda a, theta, psd: spectral_soft_threshold(a, theta, psd=psd),
                  [arrays(), floats, st.sampled_from([True, False, 1, "yes", None])], {})
    _ = hdcore


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], sys.argv[3])
