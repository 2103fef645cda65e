"""``python -m hdcore`` runs the command line."""

import sys

from hdcore.cli import main

sys.exit(main())
