"""The entry points: one model file, or a set of them with unique ids; the file's top level."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.errors import ModelError, ModelProblem
from scoring.loader.criteria import read_criteria
from scoring.loader.problems import ABSENT, Problems, shown
from scoring.loader.rules import DEFAULT_SCALE, MODEL_ID, MODEL_ID_RULE, MODEL_KEYS
from scoring.loader.tiers import read_tiers
from scoring.loader.values import known_fields, read_ident, read_integer, read_number, read_text
from scoring.loader.yaml_text import read_yaml
from scoring.model import Model


def parse_model(text: str, source: str) -> Model:
    """The model in YAML `text` read from `source` (a file name, used in messages).

    Raises `ModelError` with every problem found when the text breaks any rule.
    """
    problems = Problems(source)
    model = _read_model(problems, text)
    if model is None:
        raise ModelError(problems.found)
    return model


def parse_models(documents: Sequence[tuple[str, str]]) -> tuple[Model, ...]:
    """The models of `(source, text)` pairs, in order; model ids must be unique across them.

    Raises `ModelError` with the problems of every document when any breaks a rule: all the
    models load, or none.
    """
    found: list[ModelProblem] = []
    models: list[Model] = []
    source_by_id: dict[str, str] = {}
    for source, text in documents:
        try:
            model = parse_model(text, source)
        except ModelError as err:
            found.extend(err.problems)
            continue
        if model.id in source_by_id:
            rule = f"model id '{model.id}' is already used by {source_by_id[model.id]}"
            found.append(ModelProblem(source, "id", rule))
        source_by_id.setdefault(model.id, source)
        models.append(model)
    if found:
        raise ModelError(found)
    return tuple(models)


def _read_model(problems: Problems, text: str) -> Model | None:
    """The model of `text`, or None when `problems` received anything."""
    data = read_yaml(problems, text)
    if not problems.clean_since(0):
        return None
    if not isinstance(data, dict):
        got = "the file is empty" if data is None else f"got {shown(data)}"
        problems.add(
            "", f"the top level must be a mapping with id, version, tiers and criteria ({got})"
        )
        return None
    fields = known_fields(problems, data, "", MODEL_KEYS)
    model_id = read_ident(problems, fields.get("id", ABSENT), "id", MODEL_ID, MODEL_ID_RULE)
    version = read_integer(problems, fields.get("version", ABSENT), "version", at_least=1)
    description = read_text(problems, fields.get("description", ""), "description")
    before_scale = problems.mark()
    scale = read_number(problems, fields.get("scale", DEFAULT_SCALE), "scale", above=0)
    known_scale = scale if problems.clean_since(before_scale) else None
    hysteresis = read_number(problems, fields.get("hysteresis", 0), "hysteresis", at_least=0)
    tiers = read_tiers(problems, fields.get("tiers", ABSENT), "tiers")
    criteria = read_criteria(problems, fields.get("criteria", ABSENT), "criteria", known_scale)
    if not problems.clean_since(0):
        return None
    return Model(
        model_id, version, description.strip(), scale, hysteresis, tiers, criteria, problems.file
    )
