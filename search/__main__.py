"""``python -m dslnas.search`` runs the CLI (same as the ``dslnas`` script)."""

from dslnas.search.cli import main

main()
