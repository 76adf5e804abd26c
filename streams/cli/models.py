"""Model files for the commands that score: loaded, or the process exits with their problems."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from scoring.errors import ModelError
from scoring.model import Model
from streams.model_files import load_model_files


def load_models_or_exit(paths: Sequence[str]) -> tuple[Model, ...]:
    """The models of `paths` (files or directories); on errors prints one line per broken rule
    on stderr and exits 1."""
    try:
        return load_model_files(paths)
    except ModelError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from err
