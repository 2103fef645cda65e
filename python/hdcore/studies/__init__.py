"""Studies: each paper's headline experiment (theory + simulation + figure).

``hdcore list`` shows them; ``hdcore reproduce NAME`` writes ``NAME.png`` and ``NAME.csv``.
From a script or a notebook::

    import hdcore.studies
    study = hdcore.studies.get("spiked-wigner")
    theory = study.theory(quick=True)                 # theory curves (DataFrame)
    runs = study.run_simulations(quick=True)          # one row per simulation run
    fig = study.figure(theory, runs)                  # a matplotlib Figure
    table = study.table(theory, runs)                 # the tidy table of NAME.csv
"""

from hdcore.studies import (  # noqa: F401  (each module registers its studies)
    compressed_sensing,
    matrix_sensing,
    matrix_tensor,
    multi_index,
    quadratic_erm,
    robust_regression,
    sequence_sgd,
    spiked_matrix,
)
from hdcore.studies.base import STUDIES, Study, StudyOutput, get_study, register

__all__ = ["STUDIES", "Study", "StudyOutput", "get", "get_study", "register", "list_studies"]

#: ``hdcore.studies.get(name)``: the study called ``name`` (same as :func:`get_study`).
get = get_study


def list_studies() -> list[str]:
    """Names of the registered studies."""
    return sorted(STUDIES)
