"""Model files (YAML text) -> validated, frozen `Model`s (docs/scoring.md section 2).

Pure: the caller reads the files (`streams.model_files`) and hands over `(source, text)`.
Every broken rule is collected, never only the first: `parse_model` and `parse_models` either
return models that keep every rule, or raise `ModelError` with one `ModelProblem` per problem,
each naming the file, the place in it (`criteria[2].signals[1].where.url.contains`, indexes
counted from 0) and the rule. docs/models.md is the user's reference for these rules.

Stored forms: durations in seconds, dotted field paths split on '.', `values` / `any` keys and
condition strings lower-cased, mappings read-only (`MappingProxyType`).

How the readers work: each `read_*` function records what is wrong with its value in the file's
`Problems` and returns a stand-in of the right type; an element (tier, band, signal, criterion,
model) is built only when reading it recorded no new problem, otherwise it is None. Cross-checks
(order, unique names, breadth targets) look only at elements that were read cleanly, so one
mistake is reported once and does not cascade.

The modules, from the file down:
- `parse`: the public entry points and the top level of a model file;
- `yaml_text`: the strict YAML reading (no duplicate keys, only true/false as booleans);
- `tiers`, `criteria` (every criterion kind), `signals` (a behavioral criterion's signals and
  their `where` conditions);
- `values`: readers of one value (a number, a duration, an id...); `checks`: rules between the
  elements of a list (unique names, falling mins);
- `rules`: the keys, patterns, limits and rule texts; `problems`: the problems of one file and
  how values are shown in them.
"""

from scoring.loader.parse import parse_model, parse_models

__all__ = ["parse_model", "parse_models"]
