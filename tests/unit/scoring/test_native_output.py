"""The replay's output lines, written by the native core, against the same lines made in Python.

`Engine.score_lines` writes each account's JSON lines without building a `Score` or an
`Explanation`. Here the Python way of making the line (below: `score_line` of the score and the
explanation's `to_dict`, through orjson) is the reference, so the two can only agree if the
core's JSON, float, time and text formatting are the ones Python consumers see.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
from pathlib import Path

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scoring import _core
from scoring.engine import Engine, Score
from scoring.state import AccountState
from scoring.timefmt import format_rfc3339
from streams.model_files import load_model_files
from streams.offline.replay import Replay
from streams.offline.simulate import simulate
from streams.settings import Settings
from tests.unit.factories import ACCOUNT, DAY, HOUR, T0, event, profile, scoring_md_model

ROOT = Path(__file__).resolve().parents[3]


def score_line(score: Score, explanation: dict[str, object]) -> dict[str, object]:
    """One account x model as the replay's `--out` and `scorer export` write it."""
    return {
        "account_id": score.account_id,
        "model": score.model,
        "model_version": score.model_version,
        "total": score.total,
        "fit": score.fit,
        "engagement": score.engagement,
        "tier": score.tier,
        "clock": format_rfc3339(score.clock),
        "criteria": dict(score.criteria),
        "explanation": explanation,
    }


def python_lines(engine: Engine, state: AccountState) -> bytes:
    return b"".join(
        orjson.dumps(
            score_line(engine.score(state, m.id), engine.explain(state, m.id).to_dict()),
            option=orjson.OPT_APPEND_NEWLINE,
        )
        for m in engine.models
    )


def test_lines_of_a_simulated_market_equal_pythons(tmp_path: Path) -> None:
    models = load_model_files([ROOT / "deploy/models"])
    profiles, events = simulate(300, 6_000, end=T0 + 30 * DAY, seed=5).write(tmp_path)
    replay = Replay(
        models, lambda change: None, io.StringIO(), dedupe_window=Settings().dedupe_window
    )
    replay.apply_profiles(profiles)
    replay.apply_events(events)
    assert len(replay.states) == 300 and replay.summary.events > 5_000
    for state in replay.states.values():
        assert replay.engine.score_lines(state) == python_lines(replay.engine, state)


ids = itertools.count()
texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
amounts = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    texts,
)
stacks = st.lists(
    st.one_of(st.sampled_from(["Snowflake", "SALESFORCE", "segment"]), texts, st.integers())
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "employees": amounts,
        "industry": st.one_of(st.sampled_from(["Software", "manufacturing"]), texts, amounts),
        "technologies": st.one_of(stacks, amounts),
    },
)
kinds = st.sampled_from(
    ["page_view", "content_download", "form_submit", "email_open", "unsubscribe"]
)
properties = st.fixed_dictionaries(
    {}, optional={"url": st.sampled_from(["/pricing", "/docs"]), "form": st.just("demo")}
)
hits = st.tuples(
    kinds, st.floats(0, 40 * DAY), st.sampled_from([None, "ann", "bob", "cy"]), properties
)


@settings(max_examples=200, deadline=None)
@given(
    texts,
    st.one_of(st.none(), fields),
    st.lists(hits, max_size=25),
    st.floats(0, 400 * DAY),
)
@example(ACCOUNT, {"employees": 1200, "industry": "Software"}, [], 0.0)
@example('a"\\\n\x01é', {"employees": 1234.5, "technologies": ["Snowflake", "snowflake"]}, [], 0.0)
def test_lines_equal_pythons_for_any_account(
    account_id: str,
    profile_fields: dict[str, object] | None,
    history: list[tuple[str, float, str | None, dict[str, str]]],
    later: float,
) -> None:
    engine = Engine([scoring_md_model()])
    state = engine.new_account(account_id)
    if profile_fields is not None:
        engine.apply_profile(state, profile(T0, account_id=account_id, fields=profile_fields))
    for kind, offset, contact, props in history:
        hit = event(f"e{next(ids)}", kind, T0 + offset, account_id=account_id, contact=contact)
        engine.apply_event(state, dataclasses.replace(hit, properties=dict(props)))
    if not math.isfinite(state.clock):
        engine.evaluate(state, T0, "decay")
    engine.evaluate(state, state.clock + later, "decay")
    assert engine.score_lines(state) == python_lines(engine, state)


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
@example(1e16)
@example(9999999999999998.0)
@example(1e-5)
@example(9.999e-6)
@example(-0.0)
@example(5e-324)
def test_floats_are_written_as_orjson_writes_them(value: float) -> None:
    assert _core.json_float(value) == orjson.dumps(value).decode()


@settings(max_examples=500, deadline=None)
@given(st.floats(-62_135_596_800.0, 253_402_300_799.0))
@example(T0 + 0.0000005)
@example(T0 + 0.0000015)
@example(T0 - 0.0000005)
@example(-0.5)
def test_times_are_written_as_python_writes_them(epoch: float) -> None:
    assert _core.format_rfc3339(epoch) == format_rfc3339(epoch)


@given(st.floats(-10 * DAY, 400 * DAY))
@example(59.999)
@example(HOUR)
def test_ages_round_down_to_the_largest_whole_unit(seconds: float) -> None:
    expected = f"{int(max(0.0, seconds))}s"
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)):
        if seconds >= size:
            expected = f"{int(seconds // size)}{unit}"
            break
    assert _core.format_age(seconds) == expected


@given(st.one_of(st.integers(-(2**100), 2**100), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_are_written_as_python_formats_them(value: float) -> None:
    expected = f"{int(value):,}" if float(value).is_integer() else f"{value:,}"
    assert _core.format_number(value) == expected
