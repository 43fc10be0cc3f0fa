"""``python -m app``: the same as the ``unioncard`` command."""

from app.cli import main

main()
