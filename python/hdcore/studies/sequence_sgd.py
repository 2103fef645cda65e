"""Studies ``ssi-sgd`` and ``attention-positional-semantic`` (Arnaboldi, Loureiro, Stephan,
Krzakala & Zdeborova, "Asymptotics of SGD in Sequence-Single Index Models and Single-Layer
Attention Networks", arXiv:2506.02651).

``ssi-sgd``: spherical online SGD of the SSI student (squared loss ``(y - yhat)^2/2``):
(a) the semantic overlap ``m(t)``, ``t = steps/d``, of simulations at two dimensions on the ODE
curve for targets of sequence information exponent 1, 2 and 3; (b) the escape time (steps to
``|m| = 1/2`` from ``m0 = d^{-1/2}``) against ``d`` on log axes with the predicted scalings ``d``,
``d log^2 d`` and ``d^2`` (SIE 3 with ``lr ~ d^{-1/2}``, as required for escape), and the ODE's
hitting time; (c) tied vs untied network on ``y = sum_l z_l/sqrt(L)``: time to ``m = 1/2``
against ``L``. Where a simulation is marked "reduced" it is the exact overlap chain
(``mode="reduced"``), equal in law to the full simulation (tested at d = 1000).

``attention-positional-semantic``: tied attention with the opposite-paired positional encoding
against the L = 2 teacher ``T = (1 - omega) softmax(z* z*^T) + omega A(a)``, squared loss
``||T - S||^2/2`` for landscape, ODE and SGD alike (the authors' SGD used the unsquared
Frobenius loss, which has the same minima but other dynamics): (a) the ``(a, omega)`` phase
diagram (global minimum, escape direction at the origin, extra minima); (b) SGD trajectories and
ODE curves in the ``(e, m)`` disk over the landscape contours for ``omega`` on both sides of each
transition.

Run times measured on the shared 2-core machine (load average about 8): ``--quick`` 11 s
(``ssi-sgd``) and 21 s; the full runs 28 min (``ssi-sgd``, dominated by the SIE-3 escape times
at ``d = 10^3.5``, about ``3 d^2`` steps per run, and the full ``d = 10^4`` trajectories) and 11 min.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hdcore._progress import advance, progress_bar
from hdcore.algorithms import online_sgd
from hdcore.models import SequenceSingleIndex, TiedStudent, UntiedStudent
from hdcore.studies.base import Study, register
from hdcore.theory.sgd import PhaseDiagram
from hdcore.theory import (
    REGIONS,
    attention_landscape,
    positional_semantic_phase_diagram,
    sgd_ode,
)

__all__ = ["AttentionPositionalSemanticStudy", "SSISGDStudy"]

#: (label, target, L, lr, m0, t_max): SIE 1, 2, 3
TRAJ = (("SIE 1: z1 + z1 z2", "staircase2", 2, 0.3, 0.0, 4.0),
        ("SIE 2: z1 z2", "z1z2", 2, 0.25, 0.05, 20.0),
        ("SIE 3: z1 z2 z3", "z1z2z3", 3, 0.05, 0.3, 60.0))
ESCAPE_LEVEL = 0.5
#: learning rate and duration of the attention trajectories
LR_ATT, T_ATT = 1.0, 80.0


def _explode(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df.explode(cols, ignore_index=True).astype({c: float for c in cols})


def _escape_lr(sie: int, d: int) -> float:
    """Learning rates of the escape-time panel: constant for SIE 1, 2; ``~ d^{-1/2}`` for
    SIE 3, where a constant rate lets the variance term win at ``m ~ d^{-1/2}``."""
    return {1: 0.3, 2: 0.25, 3: 0.1 / math.sqrt(d)}[sie]


ESCAPE_TARGETS = {1: ("staircase2", 2), 2: ("z1z2", 2), 3: ("z1z2z3", 3)}


@register
class SSISGDStudy(Study):
    """Online SGD in sequence single-index models: ODE vs simulation, escape times, tied vs
    untied."""

    name = "ssi-sgd"
    title = "Online SGD in sequence single-index models (arXiv:2506.02651)"

    def dims(self, quick):
        return (1000, 10_000) if quick else (10_000, 100_000)

    def escape_dims(self, quick, sie):
        hi = {1: 5.0, 2: 5.0, 3: 3.5} if not quick else {1: 3.5, 2: 3.5, 3: 2.75}
        return np.unique(np.round(np.logspace(2.0, hi[sie], 4 if quick else 7)).astype(int))

    def lengths(self, quick):
        return (1, 2, 4) if quick else (1, 2, 3, 4, 6, 8)

    def n_seeds(self, quick=False):
        return 2 if quick else 4

    def theory(self, quick=False, *, progress=False):
        rows = []
        students = (("tied", TiedStudent()), ("untied", UntiedStudent()))
        total = (len(TRAJ) * len(self.dims(quick))
                 + sum(len(self.escape_dims(quick, sie)) for sie in ESCAPE_TARGETS)
                 + len(self.lengths(quick)) * len(students))
        with progress_bar(progress, total=total, desc=f"{self.name}: theory", unit="ODE") as bar:
            for label, target, L, lr, m0, t_max in TRAJ:
                for d in advance(self.dims(quick), bar):
                    model = SequenceSingleIndex(d=d, L=L, target=target)
                    ode = sgd_ode(model, "ssi", lr, t_max, m0=m0 or 1 / math.sqrt(d))
                    rows.append(pd.DataFrame({"panel": "trajectory", "series": label, "d": d,
                                              "x": ode.t, "y": ode.m}))
            for sie, (target, L) in ESCAPE_TARGETS.items():
                for d in advance(self.escape_dims(quick, sie), bar):
                    model = SequenceSingleIndex(d=int(d), L=L, target=target)
                    lr = _escape_lr(sie, d)
                    ode = sgd_ode(model, "ssi", lr, 20.0 * d ** max(sie - 2, 0) + 50.0,
                                  m0=1 / math.sqrt(d), n_points=400)
                    rows.append(pd.DataFrame({"panel": "escape", "series": f"SIE {sie}", "d": [d],
                                              "x": [d],
                                              "y": [ode.hitting_time(ESCAPE_LEVEL) * d]}))
            for L in self.lengths(quick):
                model = SequenceSingleIndex(d=10_000, L=L, target="sum",
                                            target_kw={"scale": 1 / math.sqrt(L)})
                for kind, st in advance(students, bar):
                    ode = sgd_ode(model, st, 0.3, 40.0, m0=0.01, n_points=400)
                    rows.append(pd.DataFrame({"panel": "tied-untied", "series": kind,
                                              "d": [10_000], "x": [L],
                                              "y": [ode.hitting_time(ESCAPE_LEVEL)]}))
        return pd.concat(rows, ignore_index=True)

    def grid(self, quick=False):
        pts = []
        for i, (_, target, L, lr, m0, t_max) in enumerate(TRAJ):
            for d in self.dims(quick):
                # full simulation at the smaller d except for SIE 3 (long); reduced otherwise
                mode = "full" if d == min(self.dims(quick)) and i < 2 else "reduced"
                pts.append({"panel": "trajectory", "series": TRAJ[i][0], "target": target,
                            "L": L, "lr": lr, "m0": m0, "t_max": t_max, "d": d, "mode": mode})
        for sie, (target, L) in ESCAPE_TARGETS.items():
            for d in self.escape_dims(quick, sie):
                pts.append({"panel": "escape", "series": f"SIE {sie}", "target": target, "L": L,
                            "lr": _escape_lr(sie, d), "m0": 0.0, "t_max": np.nan, "d": int(d),
                            "mode": "reduced"})
        for L in self.lengths(quick):
            for kind in ("tied", "untied"):
                pts.append({"panel": "tied-untied", "series": kind, "target": "sum", "L": L,
                            "lr": 0.3, "m0": 0.01, "t_max": 40.0, "d": 10_000, "mode": "reduced"})
        return pts

    def simulate(self, seed, *, panel, series, target, L, lr, m0, t_max, d, mode):
        if panel == "trajectory":
            model = SequenceSingleIndex(d=d, L=L, target=target)
            steps = int(t_max * d)
            r = online_sgd(model, "ssi", lr, steps, seed=seed, m0=m0 or 1 / math.sqrt(d),
                           record=40, mode=mode)
            return {"x": list(r.t), "y": list(r.m[0])}
        if panel == "escape":
            model = SequenceSingleIndex(d=d, L=L, target=target)
            sie = int(series.split()[-1])
            cap = int(20 * d * max(d ** (sie - 2), 1) + 50 * d)
            r = online_sgd(model, "ssi", lr, cap, seed=seed, n_runs=8, m0=1 / math.sqrt(d),
                           record=2, stop_overlap=ESCAPE_LEVEL, mode="reduced")
            esc = r.escape_step
            return {"x": [float(d)], "y": [float(np.nanmedian(esc)) if np.isfinite(esc).any()
                                           else np.nan]}
        model = SequenceSingleIndex(d=d, L=L, target="sum", target_kw={"scale": 1 / math.sqrt(L)})
        st = TiedStudent() if series == "tied" else UntiedStudent()
        r = online_sgd(model, st, lr, int(t_max * d), seed=seed, n_runs=4, m0=m0, record=2,
                       stop_overlap=ESCAPE_LEVEL, mode="reduced")
        return {"x": [float(L)], "y": [float(np.nanmedian(r.escape_step)) / d]}

    def run_simulations(self, *, quick=False, seed=0, **options):
        df = super().run_simulations(quick=quick, seed=seed, **options)
        return _explode(df, ["x", "y"])

    def table(self, theory, simulation):
        th = theory.assign(kind="theory", mode="ode", replicate=np.nan)
        sim = simulation[["panel", "series", "d", "x", "y", "mode", "replicate"]].assign(
            kind="simulation")
        out = pd.concat([th, sim], ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "panel", "series", "d", "mode", "replicate", "x", "y"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import style, subplots

        with style():
            fig, axes = subplots(1, 3, figsize=(13.5, 3.9), constrained_layout=True)
            ax = axes[0]
            colors = {lab: f"C{i}" for i, (lab, *_rest) in enumerate(TRAJ)}
            dims = sorted(theory[theory.panel == "trajectory"].d.unique())
            for lab, *_ in TRAJ:
                for k, d in enumerate(dims):
                    th = theory[(theory.panel == "trajectory") & (theory.series == lab)
                                & (theory.d == d)]
                    ax.plot(th.x, th.y, color=colors[lab], ls="-" if k else "--", lw=1.2,
                            label=f"{lab} ODE" if k else None)
                    sim = simulation[(simulation.panel == "trajectory")
                                     & (simulation.series == lab) & (simulation.d == d)]
                    for _, run in sim.groupby("replicate"):
                        ax.plot(run.x, run.y, "o" if k else "s", color=colors[lab], ms=2.5,
                                alpha=0.6, mfc="none" if k else None,
                                label=(f"sim d={d:.0e} "
                                       + ("(full; SIE 3 reduced)" if k == 0 else "(reduced)")
                                       if lab == TRAJ[0][0] and run.replicate.iloc[0] == 0
                                       else None))
            ax.set_xscale("symlog", linthresh=0.1)
            ax.set_xlabel("t = steps / d")
            ax.set_ylabel("semantic overlap m")
            ax.set_title("(a) m(t): simulation on the ODE")
            ax.legend(fontsize=6.5, loc="upper left")

            ax = axes[1]
            for sie in (1, 2, 3):
                c = f"C{sie - 1}"
                th = theory[(theory.panel == "escape") & (theory.series == f"SIE {sie}")]
                sim = simulation[(simulation.panel == "escape")
                                 & (simulation.series == f"SIE {sie}")]
                agg = sim.groupby("x").y.median().reset_index()
                ax.plot(agg.x, agg.y, "o", color=c, label=f"SIE {sie} (reduced sim.)")
                ax.plot(th.x, th.y, "-", color=c, lw=1, alpha=0.7, label=f"SIE {sie} ODE")
                d = np.asarray(agg.x, dtype=float)
                if d.size:
                    ref = {1: d, 2: d * np.log(d) ** 2, 3: d**2}[sie]
                    k = len(d) // 2
                    ax.plot(d, ref * agg.y.iloc[k] / ref[k], ":", color=c, lw=1,
                            label={1: "~ d", 2: "~ d log^2 d", 3: "~ d^2 (lr ~ d^-1/2)"}[sie])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("d")
            ax.set_ylabel(f"steps to |m| = {ESCAPE_LEVEL}")
            ax.set_title("(b) escape time from m0 = d^-1/2")
            ax.legend(fontsize=6.5)

            ax = axes[2]
            for i, kind in enumerate(("tied", "untied")):
                th = theory[(theory.panel == "tied-untied") & (theory.series == kind)]
                sim = simulation[(simulation.panel == "tied-untied")
                                 & (simulation.series == kind)]
                agg = sim.groupby("x").y.mean().reset_index()
                ax.plot(th.x, th.y, "-", color=f"C{i}", label=f"{kind} ODE")
                ax.plot(agg.x, agg.y, "o", color=f"C{i}", label=f"{kind} sim. (reduced, d=1e4)")
            ax.set_xlabel("sequence length L")
            ax.set_ylabel(f"time t to m = {ESCAPE_LEVEL}")
            ax.set_title("(c) tied vs untied, y = sum z_l / sqrt(L)")
            ax.legend(fontsize=7)
            fig.suptitle(self.title)
        return fig


@register
class AttentionPositionalSemanticStudy(Study):
    """Positional vs semantic learning in tied attention: phase diagram and trajectories."""

    name = "attention-positional-semantic"
    title = ("Tied attention vs T = (1-omega) softmax(z*z*^T) + omega A(a), L = 2, "
             "squared loss (arXiv:2506.02651)")
    a_traj = 1.0

    def omegas(self, pd_: PhaseDiagram) -> list[float]:
        """omega on both sides of the escape and global transitions at ``a_traj``."""
        i = int(np.argmin(np.abs(pd_.a - self.a_traj)))
        oe, og = pd_.omega_escape[i], pd_.omega_global[i]
        oe = 0.5 if not np.isfinite(oe) else oe
        og = 0.9 if not np.isfinite(og) else og
        return [round(max(oe - 0.15, 0.0), 3), round(0.5 * (oe + og), 3), round(min(og + 0.1, 1.0), 3)]

    def diagram(self, quick, *, progress=False):
        """The phase diagram (computed once per study instance and setting)."""
        cache = self.__dict__.setdefault("_diagrams", {})
        if quick not in cache:
            a = np.linspace(0.7, 1.0, 7 if quick else 16)
            om = np.linspace(0.0, 1.0, 21 if quick else 51)
            cache[quick] = positional_semantic_phase_diagram(a, om, n_grid=31 if quick else 61,
                                                             nodes=8 if quick else 14,
                                                             progress=progress)
        return cache[quick]

    def n_seeds(self, quick=False):
        return 2 if quick else 4

    def theory(self, quick=False, *, progress=False):
        pd_ = self.diagram(quick, progress=progress)
        rows = [pd.DataFrame({"panel": "phase", "a": np.repeat(pd_.a, len(pd_.omega)),
                              "omega": np.tile(pd_.omega, len(pd_.a)),
                              "series": "region", "x": np.nan,
                              "y": pd_.region.ravel().astype(float)})]
        rows.append(pd.DataFrame({"panel": "phase", "a": pd_.a, "omega": pd_.omega_escape,
                                  "series": "omega_escape", "x": np.nan, "y": np.nan}))
        rows.append(pd.DataFrame({"panel": "phase", "a": pd_.a, "omega": pd_.omega_global,
                                  "series": "omega_global", "x": np.nan, "y": np.nan}))
        omegas, starts = self.omegas(pd_), self.starts()
        # one landscape and len(starts) ODEs per omega
        with progress_bar(progress, total=len(omegas) * (1 + len(starts)),
                          desc=f"{self.name}: theory", unit="step") as bar:
            for om in omegas:
                ls = attention_landscape(self.a_traj, om, n_grid=31 if quick else 81,
                                         nodes=8 if quick else 14)
                bar.update(1)
                ok = np.isfinite(ls.loss)
                rows.append(pd.DataFrame({"panel": "landscape", "a": self.a_traj, "omega": om,
                                          "series": "R", "x": ls.e[ok], "y": ls.m[ok],
                                          "value": ls.loss[ok]}))
                model = self.model(om, 1000)
                for m0, e0 in advance(starts, bar):
                    ode = sgd_ode(model, "attention", LR_ATT, T_ATT, m0=m0, e0=e0,
                                  nodes=10 if quick else 14, n_points=60, rtol=1e-4)
                    rows.append(pd.DataFrame({"panel": "ode", "a": self.a_traj, "omega": om,
                                              "series": f"start {m0},{e0}", "x": ode.e,
                                              "y": ode.m}))
        return pd.concat(rows, ignore_index=True)

    def model(self, omega, d):
        return SequenceSingleIndex(d=d, L=2, target="attention", positional="opposite",
                                   target_kw={"omega": omega, "a": self.a_traj})

    def starts(self):
        return ((0.05, 0.05), (0.3, 0.05), (0.05, 0.3))

    def grid(self, quick=False):
        pd_ = self.diagram(quick)
        return [{"omega": om, "m0": m0, "e0": e0, "d": 1000,
                 "mode": "reduced" if quick else "full"}
                for om in self.omegas(pd_) for m0, e0 in self.starts()]

    def simulate(self, seed, *, omega, m0, e0, d, mode):
        model = self.model(omega, d)
        r = online_sgd(model, "attention", LR_ATT, int(T_ATT * d), seed=seed, m0=m0, e0=e0,
                       record=60, mode=mode)
        return {"x": list(r.e[0]), "y": list(r.m[0])}

    def run_simulations(self, *, quick=False, seed=0, **options):
        df = super().run_simulations(quick=quick, seed=seed, **options)
        return _explode(df, ["x", "y"])

    def table(self, theory, simulation):
        sim = simulation.assign(panel="sgd", a=self.a_traj,
                                series=[f"start {m},{e}" for m, e in zip(simulation.m0,
                                                                        simulation.e0)])
        out = pd.concat([theory.assign(kind="theory"), sim.assign(kind="simulation")],
                        ignore_index=True)
        out.insert(0, "study", self.name)
        cols = ["study", "kind", "panel", "a", "omega", "series", "replicate", "x", "y", "value"]
        return out.reindex(columns=cols)

    def figure(self, theory, simulation):
        import matplotlib
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Circle

        from hdcore.plotting import style, subplots

        with style():
            oms = sorted(theory[theory.panel == "landscape"].omega.unique())
            fig, axes = subplots(1, 1 + len(oms), figsize=(4.0 * (1 + len(oms)), 4.0),
                                 constrained_layout=True)
            ax = axes[0]
            ph = theory[(theory.panel == "phase") & (theory.series == "region")]
            a = np.sort(ph.a.unique())
            om = np.sort(ph.omega.unique())
            Z = ph.pivot(index="omega", columns="a", values="y").loc[om, a].to_numpy()
            cmap = ListedColormap(matplotlib.colormaps["tab10"].colors[:8])
            ax.pcolormesh(a, om, Z, cmap=cmap, vmin=-0.5, vmax=7.5, shading="nearest")
            for s, ls in (("omega_escape", "--"), ("omega_global", "-")):
                b = theory[(theory.panel == "phase") & (theory.series == s)]
                ax.plot(b.a, b.omega, "k" + ls, lw=1.2, label=s.replace("_", " "))
            present = sorted({int(v) for v in np.unique(Z)})
            for k in present:
                ax.plot([], [], "s", color=cmap(k), label=f"{k}: {REGIONS[k]}")
            ax.set_xlabel("a")
            ax.set_ylabel("omega")
            ax.set_title("(a) phase diagram")
            ax.legend(fontsize=5.5, loc="upper center", bbox_to_anchor=(0.5, -0.16))
            for ax, o in zip(axes[1:], oms):
                land = theory[(theory.panel == "landscape") & (theory.omega == o)]
                e, m, v = (land[c].to_numpy() for c in ("x", "y", "value"))
                # unfold the quarter disk by the symmetries m -> -m, e -> -e
                E = np.concatenate([e, -e, e, -e])
                M = np.concatenate([m, m, -m, -m])
                V = np.concatenate([v, v, v, v])
                ax.tricontourf(E, M, V, levels=20, cmap="viridis")
                ax.add_patch(Circle((0, 0), 1.0, fill=False, color="k", lw=0.8))
                for i, (m0, e0) in enumerate(self.starts()):
                    key = f"start {m0},{e0}"
                    ode = theory[(theory.panel == "ode") & (theory.omega == o)
                                 & (theory.series == key)]
                    ax.plot(ode.x, ode.y, "-", color="w", lw=1.5,
                            label="ODE" if i == 0 else None)
                    sim = simulation[(simulation.omega == o) & (simulation.m0 == m0)
                                     & (simulation.e0 == e0)]
                    for r, run in sim.groupby("replicate"):
                        ax.plot(run.x, run.y, ".", color=f"C{i + 1}", ms=2.5,
                                label=(f"SGD ({run['mode'].iloc[0]}, d={run.d.iloc[0]})"
                                       if i == 0 and r == 0 else None))
                ax.set_aspect("equal")
                ax.set_xlim(-1.05, 1.05)
                ax.set_ylim(-1.05, 1.05)
                ax.set_xlabel("positional overlap e")
                ax.set_ylabel("semantic overlap m")
                ax.set_title(f"(b) R(e, m), a = {self.a_traj}, omega = {o}")
                ax.legend(fontsize=6, loc="lower left")
            fig.suptitle(self.title)
        return fig
