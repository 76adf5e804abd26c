"""What a model file may hold: its keys, id patterns, limits and the rules in words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from scoring.decode import TYPE_PATTERN
from scoring.model import ConditionOp, ProfileKind

MODEL_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
NAME_ID: Final = re.compile(r"[a-z0-9_][a-z0-9_-]{0,63}")  # criterion and signal ids
EVENT_TYPE: Final = re.compile(TYPE_PATTERN)  # what an event's `type` may be, so a signal can match
DEFAULT_SCALE: Final = 10.0
TOTAL_MAX: Final = 100.0  # the total lies in [0, 100]: a tier min above it is unreachable

MODEL_KEYS: Final = ("id", "version", "description", "scale", "hysteresis", "tiers", "criteria")
TIER_KEYS: Final = ("name", "min", "alert")
BAND_KEYS: Final = ("min", "score")
COMMON_KEYS: Final = ("id", "kind", "weight")
PROFILE_KEYS: Final = (*COMMON_KEYS, "field", "bands", "values", "any", "default", "missing")
BEHAVIORAL_KEYS: Final = (*COMMON_KEYS, "half_life", "saturation", "signals")
BREADTH_KEYS: Final = (*COMMON_KEYS, "window", "saturation", "of")
MAX_BREADTH_SATURATION: Final = 255
# The state codec counts a model's behavioral criteria, and a criterion's signals, in a byte.
MAX_BEHAVIORAL_CRITERIA: Final = 255
MAX_SIGNALS: Final = 255
# The batch commit sends tier indices as bytes, 255 meaning unknown (docs/redis-layout.md).
MAX_TIERS: Final = 254
ANY_KIND_KEYS: Final = tuple(dict.fromkeys(PROFILE_KEYS + BEHAVIORAL_KEYS + BREADTH_KEYS))
SIGNAL_KEYS: Final = ("id", "event", "points", "daily_cap", "where")
KINDS: Final = ("firmographic", "technographic", "behavioral", "breadth")
PROFILE_KINDS: Final[Mapping[object, ProfileKind]] = {
    "firmographic": "firmographic",
    "technographic": "technographic",
}
PROFILE_RULES: Final = ("bands", "values", "any")
OPERATORS: Final[Mapping[object, ConditionOp]] = {
    "equals": "equals",
    "contains": "contains",
    "in": "in",
    "gte": "gte",
    "lte": "lte",
}

MODEL_ID_RULE: Final = "must be 1 to 64 lower-case letters, digits and '-', not starting with '-'"
NAME_ID_RULE: Final = (
    "must be 1 to 64 lower-case letters, digits, '_' and '-', not starting with '-'"
)
EVENT_RULE: Final = "must be 1 to 64 lower-case letters, digits and '_', starting with a letter"
DURATION_RULE: Final = "must be a duration: a number followed by s, m, h or d, such as 14d or 36h"
OPERATOR_RULE: Final = "must hold exactly one operator: equals, contains, in, gte or lte"
