"""docs/scoring.md section 3 for events: behavioral decay, daily caps, signal matching (every
`where` operator), the clock and event dedupe, and events of another account. Numbers are worked out
by hand in the comments; engine_cases.py holds the one-criterion model they assume.
"""

from __future__ import annotations

import dataclasses

import pytest

from scoring.engine import Engine, WrongAccount
from scoring.errors import ScoringError
from tests.unit.factories import ACCOUNT, DAY, HOUR, T0, event, profile, signal
from tests.unit.scoring.engine_cases import VIEW, one_criterion, total

# --- behavioral decay ------------------------------------------------------------------------


def test_decay_halves_after_one_half_life_and_quarters_after_two() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    # x = 4 at T0, 4 * 2^-1 = 2 after a day, 4 * 2^-2 = 1 after two.
    assert total(engine, state) == pytest.approx(40.0)
    assert total(engine, state, T0 + DAY) == pytest.approx(20.0)
    assert total(engine, state, T0 + 2 * DAY) == pytest.approx(10.0)


def test_saturation_clamps_the_criterion_at_the_scale() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    for i in range(3):
        engine.apply_event(state, event(f"e{i}", "page_view", T0))
    # x = 12 > saturation 10 -> score 10 -> total 100; a day later x = 6 -> total 60.
    assert total(engine, state) == pytest.approx(100.0)
    assert total(engine, state, T0 + DAY) == pytest.approx(60.0)


def test_negative_points_lower_the_sum_and_a_negative_sum_scores_zero() -> None:
    signals = [VIEW, signal("unsub", "unsubscribe", -6)]
    engine = Engine([one_criterion(signals)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    engine.apply_event(state, event("e2", "unsubscribe", T0))
    # x = 4 - 6 = -2 -> clamped to 0.
    assert total(engine, state) == 0.0
    engine.apply_event(state, event("e3", "page_view", T0))
    engine.apply_event(state, event("e4", "page_view", T0))
    # x = 4 - 6 + 4 + 4 = 6 -> total 60.
    assert total(engine, state) == pytest.approx(60.0)


def test_late_event_is_added_with_its_own_decay_and_the_clock_stays() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0 + DAY))
    engine.apply_event(state, event("e2", "page_view", T0))
    # At T0 + 1d: 4 (fresh) + 4 * 2^-1 (a day old) = 6.
    assert state.clock == T0 + DAY
    assert total(engine, state) == pytest.approx(60.0)


def test_rebase_keeps_sums_exact_over_many_half_lives() -> None:
    # half-life 1 s: 200 s apart is 200 half-lives, beyond the 60 that trigger a rebase.
    engine = Engine([one_criterion(half_life=1.0)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    engine.apply_event(state, event("e2", "page_view", T0 + 200))
    engine.apply_event(state, event("e3", "page_view", T0 + 201))
    # x(T0 + 201) = 4 * 2^-201 + 4 * 2^-1 + 4 = 6 (the first hit is gone to any precision).
    assert total(engine, state) == pytest.approx(60.0, rel=1e-12)
    assert state.view()["models"]["nb"]["behaviors"][0]["ref"] == T0 + 200


# --- daily caps ------------------------------------------------------------------------------

CAPPED = signal("view", "page_view", 1, daily_cap=2)


def test_daily_cap_limits_earning_hits_per_utc_day() -> None:
    engine = Engine([one_criterion([CAPPED], half_life=1e12)])  # no decay to speak of
    state = engine.new_account(ACCOUNT)
    for i in range(3):
        engine.apply_event(state, event(f"a{i}", "page_view", T0 + 23 * HOUR + i))
    # Day 0: 2 of 3 hits earn -> x = 2.
    assert total(engine, state) == pytest.approx(20.0)
    engine.apply_event(state, event("b0", "page_view", T0 + DAY + 1))
    # Day 1 (past UTC midnight): a new day, the hit earns -> x = 3.
    assert total(engine, state) == pytest.approx(30.0)


def test_late_event_of_yesterday_uses_yesterdays_counter() -> None:
    engine = Engine([one_criterion([CAPPED], half_life=1e12)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("a0", "page_view", T0 + 22 * HOUR))
    engine.apply_event(state, event("b0", "page_view", T0 + DAY + HOUR))  # clock on day 1
    engine.apply_event(state, event("a1", "page_view", T0 + 23 * HOUR))  # day 0: 2nd, earns
    engine.apply_event(state, event("a2", "page_view", T0 + 23 * HOUR))  # day 0: 3rd, capped
    # Earning: a0, b0, a1 -> x = 3.
    assert total(engine, state) == pytest.approx(30.0)


def test_a_capped_hit_days_late_counts_on_its_own_days_counter() -> None:
    signals = [CAPPED, signal("dl", "download", 1)]
    engine = Engine([one_criterion(signals, half_life=1e12)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("a0", "page_view", T0 + HOUR))  # day 0: 1st
    engine.apply_event(state, event("now", "page_view", T0 + 6 * DAY + HOUR))  # clock on day 6
    engine.apply_event(state, event("a1", "page_view", T0 + 2 * HOUR))  # day 0: 2nd, earns
    engine.apply_event(state, event("a2", "page_view", T0 + 3 * HOUR))  # day 0: 3rd, capped
    engine.apply_event(state, event("dl", "download", T0 + HOUR))  # uncapped: earns
    # Earning: a0, now, a1, dl -> x = 4.
    assert total(engine, state) == pytest.approx(40.0)
    caps = state.view()["models"]["nb"]["behaviors"][0]["caps"]
    day0 = int(T0 // DAY)
    assert caps == [(day0, 0, 2), (day0 + 6, 0, 1)]  # (UTC day, signal, earning hits)


def test_an_event_beyond_the_allowed_lateness_is_refused_and_changes_nothing() -> None:
    engine = Engine([one_criterion([CAPPED], half_life=1e12)], allowed_lateness=2 * DAY)
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("now", "page_view", T0 + 2 * DAY, contact="ann"))
    before = state.view()
    outcome = engine.apply_event(state, event("old", "page_view", T0 - 0.5, contact="bob"))
    assert outcome.too_late_by == 2 * DAY + 0.5
    assert not outcome.duplicate and outcome.changes == ()
    assert state.view() == before  # clock, caps, contacts, dedupe
    # Its id was not remembered: at exactly the allowed lateness the same id counts.
    edge = engine.apply_event(state, event("old", "page_view", T0, contact="bob"))
    assert edge.too_late_by is None and not edge.duplicate
    assert total(engine, state) == pytest.approx(20.0)


def test_a_repeat_is_a_duplicate_however_late() -> None:
    engine = Engine([one_criterion()], dedupe_window=3 * DAY, allowed_lateness=DAY)
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    engine.apply_event(state, event("e2", "other", T0 + 2 * DAY))
    assert engine.apply_event(state, event("e1", "page_view", T0)).duplicate
    assert engine.apply_event(state, event("e3", "page_view", T0)).too_late_by == 2 * DAY


@pytest.mark.parametrize(
    ("lateness", "message"), [(8 * DAY, "exceeds the dedupe window"), (-1.0, "0 or more")]
)
def test_an_allowed_lateness_beyond_the_dedupe_window_is_refused(
    lateness: float, message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        Engine([one_criterion()], dedupe_window=7 * DAY, allowed_lateness=lateness)


# --- matching --------------------------------------------------------------------------------


def test_one_event_hits_every_matching_signal() -> None:
    signals = [
        signal("pricing", "page_view", 3, where={"url": {"contains": "/Pricing"}}),
        signal("view", "page_view", 1),
    ]
    engine = Engine([one_criterion(signals)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0, url="https://x.io/PRICING/pro"))
    # Both signals hit: x = 3 + 1 = 4.
    assert total(engine, state) == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("where", "properties", "hits"),
    [
        ({"form": {"equals": "Demo"}}, {"form": "dEMO"}, True),
        ({"form": {"equals": "demo"}}, {"form": "demo-2"}, False),
        ({"form": {"equals": "demo"}}, {}, False),  # missing property never matches
        ({"url": {"contains": "/pricing"}}, {"url": "/x/PRICING"}, True),
        ({"url": {"contains": "5"}}, {"url": 5}, False),  # contains needs a string
        ({"seats": {"gte": 10}}, {"seats": 10}, True),
        ({"seats": {"gte": 10}}, {"seats": 9.5}, False),
        ({"seats": {"gte": 1}}, {"seats": True}, False),  # a boolean is not a number
        ({"seats": {"gte": 1}}, {"seats": "12"}, False),  # a string is not a number
        ({"seats": {"lte": 10}}, {"seats": 10.0}, True),
        ({"seats": {"lte": 10}}, {"seats": 11}, False),
        ({"seats": {"equals": 5}}, {"seats": 5.0}, True),  # numbers compare as numbers
        ({"seats": {"equals": 5}}, {"seats": "5"}, False),
        ({"seats": {"equals": 1}}, {"seats": True}, False),
        ({"trial": {"equals": True}}, {"trial": True}, True),
        ({"trial": {"equals": True}}, {"trial": 1}, False),
        ({"plan": {"in": ["Pro", "team"]}}, {"plan": "PRO"}, True),
        ({"plan": {"in": ["pro", 3]}}, {"plan": 3}, True),
        ({"plan": {"in": ["pro", 3]}}, {"plan": "3"}, False),
        ({"form": {"equals": "demo"}, "url": {"contains": "/a"}}, {"form": "demo"}, False),
        (
            {"form": {"equals": "demo"}, "url": {"contains": "/a"}},
            {"form": "demo", "url": "/a"},
            True,
        ),
        # Beyond ASCII, case folds as Python's str.lower does.
        ({"city": {"equals": "ÉCOLE"}}, {"city": "école"}, True),
        ({"city": {"equals": "İstanbul"}}, {"city": "İSTANBUL"}, True),
        ({"name": {"contains": "straße"}}, {"name": "STRASSE"}, False),
        ({"name": {"contains": "ΣΟΦ"}}, {"name": "η σοφία"}, True),
    ],
)
@pytest.mark.parametrize("decoded", [False, True], ids=["mapping", "dict"])
def test_where_operators(where: dict, properties: dict, hits: bool, decoded: bool) -> None:  # type: ignore[type-arg]
    engine = Engine([one_criterion([signal("s", "form_submit", 4, where=where)])])
    state = engine.new_account(ACCOUNT)
    hit = event("e1", "form_submit", T0, **properties)
    if decoded:  # decoded events carry a plain dict, which the core reads directly
        hit = dataclasses.replace(hit, properties=dict(properties))
    engine.apply_event(state, hit)
    assert total(engine, state) == (pytest.approx(40.0) if hits else 0.0)


def test_unknown_event_type_moves_the_clock_earns_nothing_and_evaluates() -> None:
    engine = Engine([one_criterion(hysteresis=0.0)])
    state = engine.new_account(ACCOUNT)
    for i in range(2):
        engine.apply_event(state, event(f"e{i}", "page_view", T0))  # x = 8 -> 80, hot
    outcome = engine.apply_event(state, event("x", "no_model_names_this", T0 + DAY))
    # A day later x = 4 -> 40: the evaluation at the new clock drops hot -> warm.
    assert state.clock == T0 + DAY
    assert [(c.previous_tier, c.tier, c.cause) for c in outcome.changes] == [
        ("hot", "warm", "event")
    ]


# --- clock and dedupe ------------------------------------------------------------------------


def test_duplicate_event_id_is_ignored_entirely_clock_included() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    outcome = engine.apply_event(state, event("e1", "page_view", T0 + HOUR))
    assert outcome.duplicate and outcome.changes == ()
    assert state.clock == T0
    assert total(engine, state) == pytest.approx(40.0)


def test_a_repeat_older_than_the_dedupe_window_is_too_late_and_never_counts_twice() -> None:
    engine = Engine([one_criterion(half_life=1e12)], dedupe_window=DAY, allowed_lateness=DAY)
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    engine.apply_event(state, event("other", "other", T0 + DAY))  # T0 >= clock - 1d: within
    assert engine.apply_event(state, event("e1", "page_view", T0)).duplicate
    engine.apply_event(state, event("later", "other", T0 + DAY + 1))  # now T0 < clock - 1d
    assert engine.apply_event(state, event("e1", "page_view", T0)).too_late_by == DAY + 1
    # The same id on a new event (a reused id) counts: its first time is out of the window.
    assert not engine.apply_event(state, event("e1", "page_view", T0 + DAY + 1)).duplicate
    assert total(engine, state) == pytest.approx(80.0)


def test_clock_never_moves_back() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "other", T0 + DAY))
    engine.apply_event(state, event("e2", "other", T0))
    engine.evaluate(state, T0, "decay")
    engine.apply_profile(state, profile(T0 - DAY))
    assert state.clock == T0 + DAY


def test_event_of_another_account_is_refused() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    with pytest.raises(WrongAccount):
        engine.apply_event(state, event("e1", "page_view", T0, account_id="other"))
    with pytest.raises(WrongAccount):
        engine.apply_profile(state, profile(T0, account_id="other"))
