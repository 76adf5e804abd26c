"""Model files on disk -> validated `Model`s: the I/O edge around `scoring.loader`.

Used by `scorer model check`, the stream worker, the replay and the benchmarks, so they all load
models the same way: all the files load, or none (`ModelError` with every problem).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scoring.errors import ModelError, ModelProblem
from scoring.loader import parse_models
from scoring.model import Model

MODEL_SUFFIXES = (".yaml", ".yml")
NO_PATH = "model files"  # the `file` of the problem raised when no path is given


def load_model_files(paths: Sequence[str | Path]) -> tuple[Model, ...]:
    """The models of `paths`, each a model file or a directory of them.

    A directory contributes its `*.yaml` and `*.yml` files (not its subdirectories, not hidden
    files), sorted by name. A file named twice is read once. Each file's source name in messages
    is its path as given. Raises `ModelError` with every problem: a missing path, an empty
    directory, an unreadable or non-UTF-8 file, any rule broken inside a file, a model id used
    twice.
    """
    if not paths:
        raise ModelError([ModelProblem(NO_PATH, "", "no model file or directory given")])
    problems: list[ModelProblem] = []
    files = _model_files(paths, problems)
    documents = _read_documents(files, problems)
    try:
        models = parse_models(documents)
    except ModelError as err:
        problems.extend(err.problems)
    if problems:
        raise ModelError(problems)
    return models


def _model_files(paths: Sequence[str | Path], problems: list[ModelProblem]) -> list[Path]:
    """The files `paths` name, in order, each once; what cannot be listed goes to `problems`."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = _directory_files(path)
            if not found:
                rule = "directory holds no *.yaml or *.yml file"
                problems.append(ModelProblem(str(path), "", rule))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(ModelProblem(str(path), "", "no such file or directory"))
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def _directory_files(directory: Path) -> list[Path]:
    """The visible `*.yaml` / `*.yml` files directly in `directory`, sorted by name."""
    return sorted(
        entry
        for entry in directory.iterdir()
        if entry.suffix in MODEL_SUFFIXES and not entry.name.startswith(".") and entry.is_file()
    )


def _read_documents(files: Sequence[Path], problems: list[ModelProblem]) -> list[tuple[str, str]]:
    """`(source, text)` of each file read as UTF-8; a file that cannot be read is a problem."""
    documents: list[tuple[str, str]] = []
    for file in files:
        try:
            documents.append((str(file), file.read_text(encoding="utf-8")))
        except UnicodeDecodeError as err:
            problems.append(ModelProblem(str(file), "", f"not UTF-8 text (byte {err.start})"))
        except OSError as err:
            problems.append(ModelProblem(str(file), "", f"cannot read: {err.strerror or err}"))
    return documents
