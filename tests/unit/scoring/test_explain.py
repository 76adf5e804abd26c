"""Explanations (docs/scoring.md section 4): golden summary lines, criteria numbers, the JSON
form."""

from __future__ import annotations

import orjson
import pytest

from scoring import _core
from scoring.engine import Engine
from scoring.state import AccountState
from tests.unit.factories import (
    ACCOUNT,
    DAY,
    HOUR,
    T0,
    any_of,
    bands,
    behavioral,
    breadth,
    event,
    model,
    profile,
    scoring_md_model,
    signal,
    values,
)

AT = T0 + 10 * DAY


def scoring_md_account(engine: Engine) -> AccountState:
    """The docs/scoring.md example: a demo request 2 days ago, 3 pricing views in the last 30 hours
    (each also a page view), a software company of 1,200 with Snowflake and Salesforce."""
    state = engine.new_account(ACCOUNT)
    stack = ["Snowflake", "salesforce", "SNOWFLAKE", "Segway"]
    engine.apply_profile(
        state, profile(T0, employees=1200, industry="Software", technologies=stack)
    )
    engine.apply_event(state, event("d", "form_submit", AT - 2 * DAY, contact="c1", form="Demo"))
    for i, hours in enumerate([30, 20, 4]):
        url = "https://x.io/pricing"
        engine.apply_event(
            state, event(f"p{i}", "page_view", AT - hours * HOUR, contact=f"c{i + 2}", url=url)
        )
    return state


def test_golden_summary_of_the_scoring_md_example() -> None:
    engine = Engine([scoring_md_model()])
    explanation = engine.explain(scoring_md_account(engine), "new-business", AT)
    # engagement: demo 30 * 2^(-2/14) = 27.17; pricing 6 * (2^(-30h/14d) + 2^(-20h/14d) +
    # 2^(-4h/14d)) = 17.35; page_view 1 * (same) = 2.89; x = 47.41 -> score 7.90 -> 28.22 pts.
    # size 10 * 3 -> 21.43; industry 10 * 2 -> 14.29; stack 8 * 2 -> 11.43; 4 contacts: 8 * 2
    # -> 11.43. Total 86.79; parts by contribution, at most five.
    assert explanation.summary == (
        "hot 86.8: demo_request 2d ago, 3× pricing_view (last 4h ago), "
        "3× page_view (last 4h ago), 1,200 employees, industry Software"
    )
    by_id = {c.id: c for c in explanation.criteria}
    assert [c.id for c in explanation.criteria] == [
        "company_size",
        "industry",
        "stack",
        "engagement",
        "buying_group",
    ]
    assert by_id["engagement"].score == pytest.approx(10 * 47.4116 / 60, abs=1e-3)
    assert [(s.id, s.count) for s in by_id["engagement"].signals] == [
        ("demo_request", 1),
        ("pricing_view", 3),
        ("page_view", 3),
    ]
    assert by_id["engagement"].signals[0].points == pytest.approx(30 * 2 ** (-2 / 14))
    assert by_id["engagement"].signals[1].last_hit == AT - 4 * HOUR
    assert by_id["stack"].evidence == ("uses Snowflake, salesforce",)
    assert by_id["buying_group"].evidence == ("4 engaged contacts",)
    assert sum(c.contribution for c in explanation.criteria) == pytest.approx(explanation.total)
    assert explanation.total == pytest.approx(86.792361, abs=1e-6)
    assert explanation.fit == pytest.approx(100 * 66 / 70)


def test_golden_summary_with_stack_contacts_unknown_field_and_zero_parts_left_out() -> None:
    m = model(
        [
            any_of("stack", "technologies", {"snowflake": 5, "segment": 5}, weight=3),
            breadth("group", "eng", weight=2, saturation=2),
            values("country", "hq.country", {"us": 10}, missing=5),
            bands("size", "employees", [(1000, 10)], weight=1),
            behavioral("eng", [signal("view", "page_view", 1)], saturation=1e9, weight=1e-9),
        ]
    )
    engine = Engine([m])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, technologies=["Segment"], employees=12))
    engine.apply_event(state, event("v", "page_view", T0 + 45, contact="ann"))
    # stack 5 * 3 = 15, group 10/2 * 2 = 10, country missing 5 * 1 = 5, size 0, eng ~0.
    # total = 100 * 30 / (10 * 7) = 42.86; the view's own part is tiny but not zero.
    summary = engine.explain(state, "nb").summary
    assert summary == ("warm 42.9: uses Segment, 1 engaged contact, country unknown, view 0s ago")


def test_summary_without_any_contribution_is_tier_and_total() -> None:
    engine = Engine([model([bands("size", "employees", [(1, 10)])])])
    assert engine.explain(engine.new_account(ACCOUNT), "nb").summary == "cold 0.0"


def test_tier_change_carries_the_explanation_at_its_clock() -> None:
    engine = Engine([scoring_md_model()])
    state = engine.new_account(ACCOUNT)
    stack = ["Snowflake", "Salesforce"]
    (change,) = engine.apply_profile(
        state, profile(T0, employees=1200, industry="Software", technologies=stack)
    )
    # 100 * (3 * 10 + 2 * 10 + 2 * 8) / 140 = 47.14: warm; engagement and contacts add 0.
    assert change.explanation.at == change.at == T0
    assert change.explanation.summary == (
        "warm 47.1: 1,200 employees, industry Software, uses Snowflake, Salesforce"
    )


def test_a_change_explains_its_own_moment_whatever_comes_after() -> None:
    """Changes carry their explanation lazily: it is built when first read, from a snapshot
    taken at the change, so later events, contacts and profiles do not leak into it."""
    engine = Engine([scoring_md_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=1200, technologies=["Snowflake"]))
    for i in range(3):
        engine.apply_event(state, event(f"p{i}", "page_view", T0 + i * HOUR, contact=f"c{i}"))
    (change,) = engine.apply_event(
        state, event("d", "form_submit", T0 + 4 * HOUR, contact="c9", form="demo")
    ).changes
    right_then = engine.explain(state, "new-business")
    for i in range(3, 9):  # more hits on the same signals, new contacts, then a new profile
        engine.apply_event(state, event(f"p{i}", "page_view", T0 + i * DAY, contact=f"c{i}"))
    engine.apply_profile(state, profile(T0 + 9 * DAY, employees=3, industry="Retail"))
    assert change.explanation == right_then
    assert change.explanation is change.explanation  # built once
    assert change.explanation.summary.startswith(f"{change.tier} {change.total:.1f}: ")


def test_changes_compare_with_their_explanations_and_hash_without() -> None:
    engine = Engine([scoring_md_model()])
    changes = []
    for _ in range(2):
        state = engine.new_account(ACCOUNT)
        engine.apply_profile(state, profile(T0, employees=1200, technologies=["Snowflake"]))
        outcome = engine.apply_event(state, event("d", "form_submit", T0 + HOUR, form="demo"))
        changes.append(outcome.changes[0])
    first, second = changes
    assert first == second and hash(first) == hash(second)
    assert first.explanation is not second.explanation


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (59.9, "59s"),
        (60, "1m"),
        (12 * 60 + 59, "12m"),
        (3599, "59m"),
        (4 * 3600, "4h"),
        (86399, "23h"),
        (2 * 86400 + 5, "2d"),
        (-5, "0s"),
    ],
)
def test_format_age(seconds: float, text: str) -> None:
    assert _core.format_age(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1200, "1,200"),
        (1200.0, "1,200"),
        (5, "5"),
        (1234567.5, "1,234,567.5"),
        (0, "0"),
        (-0.0, "0"),
        (-1234.5, "-1,234.5"),
        (2**63, "9,223,372,036,854,775,808"),
        (1e20, "100,000,000,000,000,000,000"),
        (0.5, "0.5"),
        (1.5e-05, "1.5e-05"),
        (0.0001, "0.0001"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert _core.format_number(value) == text
    assert text == (f"{int(value):,}" if float(value).is_integer() else f"{value:,}")


def test_signal_evidence_one_hit_or_many() -> None:
    once = _core.signal_evidence("demo_request", 1, T0 - 2 * DAY, T0)
    many = _core.signal_evidence("pricing_view", 3, T0 - 4 * HOUR, T0)
    assert once == "demo_request 2d ago"
    assert many == "3× pricing_view (last 4h ago)"


def test_summarize_orders_by_contribution_and_keeps_five_parts() -> None:
    criteria = [
        (5.0, ["a1"]),
        (0.0, ["b1"]),
        (20.0, ["c1", "c2"]),
        (10.0, ["d1", "d2", "d3"]),
        (1.0, ["e1"]),
        (10.0, ["f1"]),  # ties keep model order
    ]
    assert _core.summarize("warm", 44.95, criteria) == "warm 45.0: c1, c2, d1, d2, d3"
    assert _core.summarize("warm", 0.25, [(0.0, ["x"])]) == "warm 0.2"  # half to even, as Python


def test_to_dict_is_json_ready() -> None:
    engine = Engine([scoring_md_model()])
    explanation = engine.explain(scoring_md_account(engine), "new-business", AT)
    data = orjson.loads(orjson.dumps(explanation.to_dict()))
    assert data["at"] == "2026-12-03T00:00:00Z"
    assert data["summary"] == explanation.summary
    assert [c["id"] for c in data["criteria"]][3] == "engagement"
    top = data["criteria"][3]["top_signals"][1]
    assert top == {
        "id": "pricing_view",
        "points": pytest.approx(17.348, abs=1e-3),
        "count": 3,
        "last_hit_at": "2026-12-02T20:00:00Z",
    }
    fresh = engine.explain(engine.new_account(ACCOUNT), "new-business").to_dict()
    assert fresh["at"] is None  # no input yet: no clock


def test_a_scored_boolean_flag_reads_as_the_flag() -> None:
    customer = values("customer", "customer", {"true": 10, "false": 0})
    industry = values("industry", "industry", {"software": 10})
    engine = Engine([model(criteria=(customer, industry))])
    summaries = []
    for flag in (True, False):
        state = engine.new_account(ACCOUNT)
        engine.apply_profile(state, profile(T0, fields={"customer": flag, "industry": True}))
        summaries.append(engine.explain(state, "nb").summary)
    # customer is scored through true/false; a boolean industry is of the wrong type: unknown
    # (it scores 0 there, so the part is left out).
    assert summaries == ["warm 50.0: customer", "cold 0.0"]
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, fields={"customer": False, "industry": True}))
    evidence = [c.evidence for c in engine.explain(state, "nb").criteria]
    assert evidence == [("not customer",), ("industry unknown",)]
