"""Studies: each paper's headline experiment (theory + simulation + figure).

``hdcore list`` shows them; ``hdcore reproduce NAME`` writes ``NAME.png`` and ``NAME.csv``.
"""

from hdcore.studies import (  # noqa: F401  (each module registers its studies)
    compressed_sensing,
    matrix_sensing,
    multi_index,
    robust_regression,
    sequence_sgd,
    spiked_matrix,
)
from hdcore.studies.base import STUDIES, Study, StudyOutput, get_study, register

__all__ = ["STUDIES", "Study", "StudyOutput", "get_study", "register", "list_studies"]


def list_studies() -> list[str]:
    """Names of the registered studies."""
    return sorted(STUDIES)
