"""YAML text -> plain data, strictly: duplicate keys refused, only true/false are booleans."""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any, Final

import yaml

from scoring.loader.problems import Problems


class _StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys and reads only true/false as booleans.

    YAML 1.1 also reads yes/no/on/off as booleans, so the country code `no` would turn into
    false; here they stay strings, as in YAML 1.2.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """The mapping of `node`; raises `ConstructorError` at the second of two equal keys."""
        first_seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports the unhashable key
            if key in first_seen:
                first_line = first_seen[key].start_mark.line + 1
                problem = f"duplicate key {key!r} (first at line {first_line})"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            first_seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG: Final = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(problems: Problems, text: str) -> object:
    """The YAML document in `text`; a syntax error or a duplicate key names its line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.add("", f"{at}YAML error: {err.problem or err.context}")
    except yaml.YAMLError as err:
        problems.add("", f"YAML error: {err}")
    return None
