"""``python -m vidnas.cli``: the ``vidnas`` command."""

from vidnas.cli import main

main()
