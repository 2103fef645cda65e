"""Studies: each paper's headline experiment (theory + simulation + figure).

``hdcore list`` shows them; ``hdcore reproduce NAME`` writes ``NAME.png`` and ``NAME.csv``.
"""

from hdcore.studies.base import STUDIES, Study, StudyOutput, get_study, register
from hdcore.studies import spiked_matrix  # noqa: F401  (registers its studies)
from hdcore.studies import multi_index  # noqa: F401  (registers its studies)

__all__ = ["STUDIES", "Study", "StudyOutput", "get_study", "register", "list_studies"]


def list_studies() -> list[str]:
    """Names of the registered studies."""
    return sorted(STUDIES)
