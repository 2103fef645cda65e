"""``python -m hdcore`` runs the command line."""

from hdcore.cli import console_main

console_main()
