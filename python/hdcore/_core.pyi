"""Type stubs of the compiled extension ``hdcore._core`` (validated entry points of the Rust
kernels). Keep in sync with ``rust/python/src``; ``tests/test_stubs.py`` checks the names."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class HdcoreError(Exception): ...
class ConvergenceError(HdcoreError): ...
class NumericalError(HdcoreError): ...

F64 = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64] | npt.NDArray[np.float32]

# threads and random streams
def resolve_threads(n_threads: int | None = None) -> int: ...
def standard_normal(n: int, seed: int, domain: int = 0, n_threads: int | None = None) -> F64: ...

# linear algebra
def matvec(a: Matrix, x: F64, transpose: bool = False, packed_n: int | None = None,
           n_threads: int | None = None) -> F64: ...
def eigsh_top(a: Matrix, k: int, v0: F64, *, gram: bool = False, scale: float = 1.0,
              packed_n: int | None = None, tol: float = 1e-10, ncv: int | None = None,
              max_restarts: int = 500, n_threads: int | None = None) -> dict[str, Any]: ...
def eigsh_top_callable(op: Callable[[F64], F64], n: int, k: int, v0: F64, *, tol: float = 1e-10,
                       ncv: int | None = None, max_restarts: int = 500,
                       n_threads: int | None = None) -> dict[str, Any]: ...
def read_bandwidth_probe(n: int = ..., repeats: int = 5, n_threads: int | None = None) -> float: ...

# priors
def prior_sample(name: str, n: int, seed: int, *, rho: float | None = None, domain: int = 1,
                 n_threads: int | None = None) -> F64: ...
def prior_denoise(name: str, b: F64, a: float, *, rho: float | None = None,
                  n_threads: int | None = None) -> tuple[F64, F64]: ...
def prior_log_partition(name: str, b: F64, a: float, *, rho: float | None = None) -> F64: ...

# spiked models
def sample_spiked_wigner(n: int, snr: float, prior_name: str, seed: int, *,
                         rho: float | None = None, dtype: str = "float64", packed: bool = False,
                         n_threads: int | None = None) -> tuple[Matrix, F64]: ...
def sample_spiked_wishart(n: int, d: int, beta: float, prior_name: str, seed: int, *,
                          rho: float | None = None, dtype: str = "float64",
                          n_threads: int | None = None) -> tuple[Matrix, F64, F64]: ...
def amp_wigner(y: Matrix, snr: float, prior_name: str, x0: F64, *, rho: float | None = None,
               truth: F64 | None = None, packed_n: int | None = None, n_iter: int = 100,
               damping: float = 0.0, tol: float = 1e-12,
               n_threads: int | None = None) -> dict[str, Any]: ...
def amp_wishart(x: Matrix, beta: float, prior_name: str, u0: F64, *, rho: float | None = None,
                truth_u: F64 | None = None, truth_v: F64 | None = None, n_iter: int = 100,
                damping: float = 0.0, tol: float = 1e-12,
                n_threads: int | None = None) -> dict[str, Any]: ...

# online SGD (sequence single-index models, attention)
def sgd_simulate(spec: dict[str, Any], d: int, lr: float, steps: int, seed: int,
                 runs: list[int], *, batch: int = 1, spherical: bool = True,
                 record: list[int] = ..., stop_overlap: float | None = None,
                 m0: float | None = None, e0: float | None = None, mode: str = "full",
                 return_weights: bool = False,
                 n_threads: int | None = None) -> list[dict[str, Any]]: ...
def sgd_eval(spec: dict[str, Any], zs: npt.NDArray[np.float64],
             z: npt.NDArray[np.float64]) -> dict[str, Any]: ...
def sgd_teacher(d: int, seed: int, run_index: int, positional: bool = False,
                n_threads: int | None = None) -> tuple[F64, F64]: ...
def sgd_rng_throughput(n: int = ..., n_threads: int | None = None) -> float: ...
