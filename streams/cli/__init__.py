"""`scorer`: the project's one command line, one module per command."""

from streams.cli.main import main

__all__ = ["main"]
