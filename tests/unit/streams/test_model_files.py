"""streams.model_files.load_model_files: files and directories on disk -> models."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.errors import ModelError
from streams.model_files import load_model_files

ROOT = Path(__file__).resolve().parents[3]

MODEL = """\
id: {id}
version: 1
tiers: [{{name: hot, min: 50, alert: true}}, {{name: cold, min: 0}}]
criteria:
  - {{id: size, kind: firmographic, weight: 1, field: employees, bands: [{{min: 1, score: 10}}]}}
"""


def _write(path: Path, model_id: str) -> Path:
    path.write_text(MODEL.format(id=model_id), encoding="utf-8")
    return path


def _problems(paths: list[str | Path]) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model_files(paths)
    return [str(problem) for problem in caught.value.problems]


def test_deploy_models_load() -> None:
    models = load_model_files([ROOT / "deploy" / "models"])
    assert [m.id for m in models] == ["expansion", "new-business"]
    assert models[0].source.endswith("expansion.yaml")


def test_a_file_and_a_directory(tmp_path: Path) -> None:
    single = _write(tmp_path / "single.yaml", "single")
    folder = tmp_path / "models"
    folder.mkdir()
    _write(folder / "b.yml", "bee")
    _write(folder / "a.yaml", "ay")
    models = load_model_files([str(single), folder])
    assert [(m.id, m.source) for m in models] == [
        ("single", str(single)),
        ("ay", str(folder / "a.yaml")),
        ("bee", str(folder / "b.yml")),
    ]


def test_a_directory_skips_other_and_hidden_files_and_subdirectories(tmp_path: Path) -> None:
    _write(tmp_path / "real.yaml", "real")
    _write(tmp_path / ".real.yaml.swp", "swap")
    _write(tmp_path / ".hidden.yaml", "hidden")
    (tmp_path / "README.md").write_text("# not a model")
    (tmp_path / "nested.yaml").mkdir()
    _write(tmp_path / "nested.yaml" / "inner.yaml", "inner")
    assert [m.id for m in load_model_files([tmp_path])] == ["real"]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.yaml", "one")
    assert [m.id for m in load_model_files([tmp_path, path])] == ["one"]


def test_missing_path_and_empty_directory_are_problems(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "nope.yaml"
    assert _problems([missing, empty]) == [
        f"{missing}: no such file or directory",
        f"{empty}: directory holds no *.yaml or *.yml file",
    ]


def test_no_path_at_all_is_a_problem() -> None:
    assert _problems([]) == ["model files: no model file or directory given"]


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"id: caf\xe9\n")
    assert _problems([path]) == [f"{path}: not UTF-8 text (byte 7)"]


def test_unreadable_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "locked.yaml", "locked")

    def refuse(self: Path, encoding: str | None = None) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    assert _problems([path]) == [f"{path}: cannot read: Permission denied"]


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "same")
    _write(tmp_path / "b.yaml", "same")
    (tmp_path / "c.yaml").write_text("id: c\nversion: 0\n", encoding="utf-8")
    missing = tmp_path / "gone"
    assert _problems([tmp_path, missing]) == [
        f"{missing}: no such file or directory",
        f"{tmp_path / 'b.yaml'}: id: model id 'same' is already used by {tmp_path / 'a.yaml'}",
        f"{tmp_path / 'c.yaml'}: version: must be at least 1, got 0",
        f"{tmp_path / 'c.yaml'}: tiers: required key is missing",
        f"{tmp_path / 'c.yaml'}: criteria: required key is missing",
    ]
