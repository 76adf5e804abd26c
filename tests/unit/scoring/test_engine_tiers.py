"""docs/scoring.md section 3 for tiers: hysteresis on the way down, tier changes and what they
carry, reading a score without mutating the state, and the time of the next tier change (decay and
contacts leaving the breadth window). Numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import math

import pytest

from scoring.engine import Engine, TierChange, UnknownModel
from tests.unit.factories import ACCOUNT, DAY, T0, bands, behavioral, event, model, profile
from tests.unit.scoring.engine_cases import VIEW, breadth_model, one_criterion

# --- tiers -----------------------------------------------------------------------------------


def test_tiers_with_hysteresis_up_stay_and_down() -> None:
    engine = Engine([one_criterion(hysteresis=5.0)])
    state = engine.new_account(ACCOUNT)
    changes = engine.apply_event(state, event("e1", "page_view", T0)).changes  # 40: warm
    assert [(c.previous_tier, c.tier, c.seq) for c in changes] == [("cold", "warm", 1)]
    # 40 * 2^(-d) = 36 at d = log2(40/36): below warm's 40 but not below 40 - 5: stays.
    assert engine.evaluate(state, T0 + DAY * math.log2(40 / 36), "decay") == ()
    assert engine.evaluate(state, T0 + DAY * math.log2(40 / 35.001), "decay") == ()
    changes = engine.evaluate(state, T0 + DAY * math.log2(40 / 34.9), "decay")
    assert [(c.previous_tier, c.tier, c.seq, c.cause) for c in changes] == [
        ("warm", "cold", 2, "decay")
    ]
    assert changes[0].previous_total == pytest.approx(35.001)
    assert changes[0].total == pytest.approx(34.9)


def test_going_up_needs_no_hysteresis_and_can_skip_a_tier() -> None:
    engine = Engine([one_criterion(hysteresis=5.0)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    changes = engine.apply_event(state, event("e2", "page_view", T0)).changes  # 80
    assert [(c.previous_tier, c.tier, c.seq) for c in changes] == [("warm", "hot", 2)]
    # Falling from hot straight below 35 goes to the earned tier, cold.
    changes = engine.evaluate(state, T0 + 2 * DAY, "decay")  # 80 / 4 = 20
    assert [(c.previous_tier, c.tier, c.seq) for c in changes] == [("hot", "cold", 3)]


def test_first_change_starts_from_the_lowest_tier() -> None:
    engine = Engine([one_criterion()])
    fresh = engine.new_account(ACCOUNT)
    # Never seen: cold; one hit of 4 -> 40: warm. previous_total is the empty account's 0.
    (c,) = engine.apply_event(fresh, event("a", "page_view", T0)).changes
    assert (c.previous_tier, c.tier, c.seq, c.previous_total) == ("cold", "warm", 1, 0.0)
    assert c.total == pytest.approx(40.0)


def test_tier_change_carries_the_evaluation() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    (change,) = engine.apply_event(state, event("e1", "page_view", T0 + 5)).changes
    assert isinstance(change, TierChange)
    assert (change.account_id, change.model, change.model_version, change.at) == (
        ACCOUNT,
        "nb",
        1,
        T0 + 5,
    )
    assert change.fit is None and change.engagement == pytest.approx(40.0)
    assert change.explanation.tier == "warm" and change.explanation.total == change.total


def test_score_reads_without_mutating() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))
    before = (state.clock, state.view()["models"]["nb"]["last_total"], state.tiers()["nb"])
    later = engine.score(state, "nb", T0 + 3 * DAY)
    assert later.clock == T0 + 3 * DAY and later.tier == "cold"  # 40 / 8 = 5
    assert engine.score(state, "nb", T0 - DAY).clock == T0  # never before the clock
    assert (state.clock, state.view()["models"]["nb"]["last_total"], state.tiers()["nb"]) == before
    with pytest.raises(UnknownModel):
        engine.score(state, "nope")


# --- next tier change ------------------------------------------------------------------------


def test_next_tier_change_time_is_the_first_second_the_tier_changes() -> None:
    engine = Engine([one_criterion(hysteresis=5.0)])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0))  # 40: warm, leaves below 35
    when = engine.next_tier_change_time(state, "nb")
    assert when is not None
    # 40 * 2^(-d) < 35  <=>  d > log2(40/35) days = 16,642.6 s.
    exact = T0 + DAY * math.log2(40 / 35)
    assert exact < when <= exact + 1.0
    before = engine.new_account(ACCOUNT)
    engine.apply_event(before, event("e1", "page_view", T0))
    assert engine.evaluate(before, when - 1.0, "decay") == ()
    (change,) = engine.evaluate(state, when, "decay")
    assert change.tier == "cold"


def test_next_tier_change_time_none_when_lowest_or_floor_above_the_line() -> None:
    engine = Engine([one_criterion()])
    state = engine.new_account(ACCOUNT)
    assert engine.next_tier_change_time(state, "nb") is None  # cold is the lowest
    m = model(
        [bands("size", "employees", [(1, 10)], weight=1), behavioral("eng", [VIEW], weight=1)]
    )
    engine = Engine([m])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=5))  # fit alone: 50 -> warm forever
    engine.apply_event(state, event("e1", "page_view", T0))  # 50 + 20 = 70 -> hot
    assert state.tiers()["nb"] == "hot"
    when = engine.next_tier_change_time(state, "nb")
    assert when is not None  # hot (70) -> warm as soon as x decays below 4; then warm for good
    engine.evaluate(state, when, "decay")
    assert state.tiers()["nb"] == "warm"
    assert engine.next_tier_change_time(state, "nb") is None


def test_next_tier_change_time_accounts_for_contacts_leaving_the_window() -> None:
    engine = Engine([breadth_model(saturation=1)])  # one contact: score 10 -> total 50: warm
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0, contact="ann"))
    assert state.tiers()["nb"] == "warm"
    when = engine.next_tier_change_time(state, "nb")
    assert when is not None and T0 + 10 * DAY <= when <= T0 + 10 * DAY + 1.0
