"""Messages for the decoder tests: the schemas' examples, and Hypothesis mutations of them.

Shared by test_decode.py (the Python decoder against the schemas) and test_native_decode.py (the
native fast path against the Python decoder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
EVENT_EXAMPLES = SCHEMAS / "examples" / "behavioral-event" / "v1"
PROFILE_EXAMPLES = SCHEMAS / "examples" / "account-profile" / "v1"


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


EVENT_SCHEMA = _schema("behavioral-event.v1.schema.json")
PROFILE_SCHEMA = _schema("account-profile.v1.schema.json")
EVENT_VALIDATOR = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
PROFILE_VALIDATOR = Draft202012Validator(PROFILE_SCHEMA, format_checker=FormatChecker())


def _load(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


VALID_EVENTS = _load(EVENT_EXAMPLES)
VALID_PROFILES = _load(PROFILE_EXAMPLES)


# --- Hypothesis: mutations of the valid examples ----------------------------------------------

EVENT_FIELDS = ["event_id", "type", "occurred_at", "account_id", "domain", "contact_id"]
EVENT_FIELDS += ["properties"]
PROFILE_FIELDS = ["account_id", "updated_at", "name", "domains", "industry", "employees"]
PROFILE_FIELDS += ["annual_revenue", "country", "technologies", "owner", "customer"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # what orjson can write
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN or Infinity
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
lengths = st.sampled_from([0, 1, 2, 63, 64, 65, 127, 128, 129, 253, 254, 300])
long_strings = st.builds(lambda n, c: c * n, lengths, st.sampled_from(["a", "é", "-", "A.", "9"]))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """Mostly near-valid RFC 3339 strings: valid ones and single edits of the usual mistakes."""
    year = draw(st.sampled_from(["0999", "1000", "1970", "2024", "2026", "2027", "9999"]))
    month = draw(st.sampled_from(["00", "01", "02", "12", "13"]))
    day = draw(st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]))
    time = draw(st.sampled_from(["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"]))
    fraction = draw(st.sampled_from(["", ".", ".5", ".123456", ".123456789", ".1234567890"]))
    offset = draw(st.sampled_from(["Z", "z", "", "+00:00", "-05:30", "+14:00", "+24:00", "+0200"]))
    separator = draw(st.sampled_from(["T", "T", "T", "t", " "]))
    tail = draw(st.sampled_from(["", "", "", "\n", " ", "x"]))
    return f"{year}-{month}-{day}{separator}{time}{fraction}{offset}{tail}"


@st.composite
def domains(draw: st.DrawFn) -> str:
    labels = st.from_regex(r"\A[A-Za-z0-9-]{0,64}\Z") | st.sampled_from(["acme", "XN--P1AI", "co"])
    name = ".".join(draw(st.lists(labels, min_size=1, max_size=4)))
    return draw(st.sampled_from(["", "", "", ".", "\n", " ", "/"])).join(["", name])


@st.composite
def event_types(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(["page_view", "form_submit", "PageView", "9lives", "_x", "a" * 64])
        | st.from_regex(r"\A[a-zA-Z0-9_ -]{0,66}\n?\Z")
    )


def properties() -> st.SearchStrategy[object]:
    keys = st.text(max_size=10)
    flat = st.dictionaries(keys, scalars, max_size=70)
    many = st.integers(60, 70).map(lambda n: {f"p{i}": i for i in range(n)})
    return flat | many | st.dictionaries(keys, json_values, max_size=4) | json_values


def field_values(field: str) -> st.SearchStrategy[object]:
    """A value for `field`: often plausible (right or subtly wrong), sometimes anything at all."""
    ids = st.text(min_size=1, max_size=130) | long_strings
    plausible: dict[str, st.SearchStrategy[object]] = {
        "event_id": ids,
        "account_id": ids,
        "contact_id": ids,
        "occurred_at": timestamps(),
        "updated_at": timestamps(),
        "type": event_types(),
        "domain": domains(),
        "properties": properties(),
        "domains": st.lists(domains() | json_values, max_size=3),
        "technologies": st.lists(st.text(max_size=10) | json_values, max_size=3),
        "employees": st.integers(-2, 10**6) | st.floats(-1.0, 1e9) | st.booleans(),
        "annual_revenue": st.integers(-2, 10**9) | st.floats(-1.0, 1e12) | st.booleans(),
        "owner": st.dictionaries(st.sampled_from(["id", "name", "email", "slack", "x"]), scalars),
    }
    anything = long_strings | json_values
    return st.sampled_from([plausible.get(field, anything)] * 3 + [anything]).flatmap(lambda s: s)


@st.composite
def mutated(
    draw: st.DrawFn, bases: list[dict[str, Any]], fields: list[str], *, keyed_by_domain: bool
) -> object:
    """A valid example with one or two edits: drop, rename or re-value a field; or no object."""
    message = dict(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 2))):
        field = draw(st.sampled_from(fields))
        edit = draw(st.sampled_from(["drop", "rename", "value", "value", "value"]))
        if edit == "drop":
            message.pop(field, None)
        elif edit == "rename" and field in message:
            new_name = draw(st.sampled_from([field.upper(), field + " ", "x_" + field]))
            message[new_name] = message.pop(field)
        else:
            message[field] = draw(field_values(field))
    if keyed_by_domain and draw(st.integers(0, 3)) == 0:  # the account_id-or-domain rule
        message.pop("account_id", None)
        if draw(st.booleans()):
            message["domain"] = draw(domains())
    return draw(st.sampled_from([message] * 20 + [[message], 42, "x", None]))


AGREEMENT = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
