"""Every rule of docs/scoring.md section 3, with the numbers worked out by hand in the comments.

Most tests use one behavioral criterion of weight 1 on scale 10 with saturation 10, so that
`total = 100 * score / 10 = 10 * min(x, 10)`: a decayed sum of 4 points reads as a total of 40.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from scoring.engine import Engine, TierChange, UnknownModel, WrongAccount
from scoring.errors import ScoringError
from scoring.model import Model, Signal
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
    signal,
    values,
)

VIEW = signal("view", "page_view", 4)


def one_criterion(
    signals: list[Signal] | None = None,
    *,
    half_life: float = DAY,
    saturation: float = 10.0,
    hysteresis: float = 0.0,
    version: int = 1,
) -> Model:
    """total = 10 * min(x, 10) (weight 1, scale 10, saturation 10)."""
    return model(
        [behavioral("eng", signals or [VIEW], half_life=half_life, saturation=saturation)],
        hysteresis=hysteresis,
        version=version,
    )


def total(engine: Engine, state: AccountState, at: float | None = None) -> float:
    return engine.score(state, "nb", at).total


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


# --- breadth ---------------------------------------------------------------------------------


def breadth_model(saturation: float = 5.0) -> Model:
    # total = 100 * (1 * s_eng + 1 * s_breadth) / (10 * 2) = 5 * (s_eng + s_breadth)
    return model(
        [
            behavioral(
                "eng",
                [signal("view", "page_view", 1), signal("unsub", "unsubscribe", -1)],
                half_life=1e12,
                saturation=1e9,  # keeps the behavioral score ~0
            ),
            breadth("group", "eng", window=10 * DAY, saturation=saturation),
        ]
    )


def breadth_score(engine: Engine, state: AccountState, at: float) -> float:
    return engine.score(state, "nb", at).criteria["group"]


def test_breadth_window_excludes_t_minus_window_and_includes_t() -> None:
    engine = Engine([breadth_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0, contact="ann"))
    # One contact of 5 -> score 2 while T0 lies in (t - 10d, t].
    assert breadth_score(engine, state, T0) == pytest.approx(2.0)
    assert breadth_score(engine, state, T0 + 10 * DAY - 0.001) == pytest.approx(2.0)
    assert breadth_score(engine, state, T0 + 10 * DAY) == 0.0


def test_breadth_counts_distinct_contacts_of_positive_signals_only() -> None:
    engine = Engine([breadth_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0, contact="ann"))
    engine.apply_event(state, event("e2", "page_view", T0, contact="ann"))
    engine.apply_event(state, event("e3", "unsubscribe", T0, contact="bob"))  # negative: no
    engine.apply_event(state, event("e4", "page_view", T0))  # no contact: no
    engine.apply_event(state, event("e5", "page_view", T0, contact="cid"))
    # ann and cid: n = 2 -> score 10 * 2/5 = 4.
    assert breadth_score(engine, state, T0) == pytest.approx(4.0)


def test_breadth_uses_the_latest_hit_of_a_contact() -> None:
    engine = Engine([breadth_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("e1", "page_view", T0 + 5 * DAY, contact="ann"))
    engine.apply_event(state, event("e2", "page_view", T0, contact="ann"))  # late, older
    assert breadth_score(engine, state, T0 + 12 * DAY) == pytest.approx(2.0)


def test_contacts_are_bounded_and_the_clamped_score_stays_exact() -> None:
    engine = Engine([breadth_model(saturation=2)])  # K = 2
    state = engine.new_account(ACCOUNT)
    for i in range(9):
        engine.apply_event(state, event(f"e{i}", "page_view", T0 + i * DAY, contact=f"c{i}"))
    contacts = state.view()["models"]["nb"]["behaviors"][0]["contacts"]
    assert len(contacts) <= 4  # trimmed at twice the bound
    engine.dump(state)
    assert sorted(state.view()["models"]["nb"]["behaviors"][0]["contacts"].values()) == [
        T0 + 7 * DAY,
        T0 + 8 * DAY,
    ]
    # Contacts at days 7 and 8: both in the window until day 17 -> full score; then one.
    assert breadth_score(engine, state, T0 + 16 * DAY) == pytest.approx(10.0)
    assert breadth_score(engine, state, T0 + 17 * DAY) == pytest.approx(5.0)
    assert breadth_score(engine, state, T0 + 18 * DAY) == 0.0


# --- profile criteria ------------------------------------------------------------------------


def fit_model() -> Model:
    return model(
        [
            bands("size", "employees", [(1000, 10), (200, 7), (50, 4)], missing=1),
            values("industry", "company.industry", {"software": 10}, default=2, missing=1),
            any_of("stack", "technologies", {"snowflake": 4, "salesforce": 4, "segment": 3}),
        ]
    )


def fit_scores(**fields: object) -> dict[str, float]:
    engine = Engine([fit_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, fields=fields))
    return dict(engine.score(state, "nb").criteria)


def test_profile_criteria_read_their_fields() -> None:
    scores = fit_scores(
        employees=1200,
        company={"industry": "SOFTWARE"},
        technologies=["Snowflake", "snowflake", "SALESFORCE", 7, None],
    )
    # 1200 >= 1000 -> 10; software (any case) -> 10; snowflake once + salesforce = 8.
    assert scores == {"size": 10.0, "industry": 10.0, "stack": 8.0}


def test_profile_fields_of_the_wrong_type_count_as_absent() -> None:
    scores = fit_scores(employees="1200", company={"industry": 5}, technologies="snowflake")
    assert scores == {"size": 1.0, "industry": 1.0, "stack": 0.0}
    assert fit_scores(employees=True)["size"] == 1.0  # a boolean is not a number
    assert fit_scores(employees=None, company=None)["size"] == 1.0  # null -> missing
    assert fit_scores(company="flat")["industry"] == 1.0  # path through a non-object


def test_a_boolean_field_scores_through_true_and_false_values() -> None:
    customer = values("customer", "customer", {"true": 10, "false": 0}, missing=3)
    engine = Engine([model(criteria=(customer,))])
    scores = []
    for flag in (True, False, "TRUE", None):
        state = engine.new_account(ACCOUNT)
        engine.apply_profile(state, profile(T0, fields={"customer": flag}))
        scores.append(engine.score(state, "nb").criteria["customer"])
    # true -> 10, false -> 0, the string "TRUE" -> 10 (case-insensitive), null -> missing 3.
    assert scores == [10.0, 0.0, 10.0, 3.0]
    # Where true/false are not listed, a boolean is of the wrong type: missing.
    assert fit_scores(company={"industry": True})["industry"] == 1.0


def test_profile_bands_defaults_and_caps() -> None:
    assert fit_scores(employees=10)["size"] == 0.0  # below the last band's min
    assert fit_scores(employees=200)["size"] == 7.0  # equal to a band's min is in it
    assert fit_scores(company={"industry": "retail"})["industry"] == 2.0  # default
    stack = ["snowflake", "salesforce", "segment"]
    assert fit_scores(technologies=stack)["stack"] == 10.0  # 4 + 4 + 3 = 11, capped at 10
    assert fit_scores(technologies=[])["stack"] == 0.0


def test_no_profile_means_missing_everywhere() -> None:
    engine = Engine([fit_model()])
    state = engine.new_account(ACCOUNT)
    assert dict(engine.score(state, "nb").criteria) == {"size": 1.0, "industry": 1.0, "stack": 0.0}


def test_profile_replaces_the_whole_profile() -> None:
    engine = Engine([fit_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=1200))
    engine.apply_profile(state, profile(T0 + 1, technologies=["segment"]))
    assert dict(engine.score(state, "nb").criteria) == {"size": 1.0, "industry": 1.0, "stack": 3.0}
    assert state.clock == T0 + 1


def test_fit_and_engagement_sub_scores_are_none_without_such_criteria() -> None:
    engine = Engine([fit_model(), dataclasses.replace(one_criterion(), id="b")])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=1200))
    fit_only = engine.score(state, "nb")
    # size 10, industry 1 (missing), stack 0: fit = 100 * 11 / 30.
    assert fit_only.engagement is None and fit_only.fit == pytest.approx(100 * 11 / 30)
    assert fit_only.total == fit_only.fit
    engagement_only = engine.score(state, "b")
    assert engagement_only.fit is None and engagement_only.engagement == 0.0


def test_total_weights_criteria() -> None:
    m = model(
        [
            bands("size", "employees", [(1, 10)], weight=3),
            behavioral("eng", [VIEW], weight=1, half_life=DAY, saturation=8),
        ]
    )
    engine = Engine([m])
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=5))
    engine.apply_event(state, event("e1", "page_view", T0))
    # 100 * (3 * 10 + 1 * 10 * 4/8) / (10 * 4) = 100 * 35 / 40 = 87.5.
    score = engine.score(state, "nb")
    assert score.total == pytest.approx(87.5)
    assert score.fit == pytest.approx(100.0)
    assert score.engagement == pytest.approx(50.0)


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


# --- rescore ---------------------------------------------------------------------------------


def two_criteria(points: float, half_life_b: float, version: int) -> Model:
    return model(
        [
            behavioral("a", [signal("view", "page_view", points)], half_life=DAY, saturation=10),
            behavioral("b", [signal("dl", "download", 4)], half_life=half_life_b, saturation=10),
        ],
        version=version,
    )


def test_rescore_keeps_history_when_only_points_changed_and_resets_changed_criteria() -> None:
    old = Engine([two_criteria(points=2, half_life_b=DAY, version=1)])
    state = old.new_account(ACCOUNT)
    old.apply_event(state, event("e1", "page_view", T0))
    old.apply_event(state, event("e2", "download", T0))
    # a: x = 2 -> 2; b: x = 4 -> 4; total = 100 * (2 + 4) / 20 = 30.
    assert total(old, state) == pytest.approx(30.0)
    seq_before = state.view()["models"]["nb"]["seq"]
    new = Engine([two_criteria(points=6, half_life_b=2 * DAY, version=2)])
    meta, blobs = old.dump(state)
    restored = new.restore(ACCOUNT, meta, blobs, None)
    assert new.needs_rescore(restored)
    assert new.stale_models(restored) == ("nb",)
    changes = new.rescore(restored)
    assert new.stale_models(restored) == ()
    # a keeps its hit with the new points: x = 6; b changed half-life: starts from 0.
    # total = 100 * 6 / 20 = 30: no tier change; the version moves on.
    assert total(new, restored) == pytest.approx(30.0)
    assert changes == ()
    assert (
        restored.view()["models"]["nb"]["version"] == 2
        and restored.view()["models"]["nb"]["seq"] == seq_before
    )
    assert not new.needs_rescore(restored)
    # The in-memory state is rescored the same way.
    new.rescore(state)
    assert total(new, state) == pytest.approx(30.0)


def test_a_new_version_that_reorders_criteria_keeps_each_ones_history() -> None:
    a = behavioral("a", [signal("view", "page_view", 2)], half_life=DAY, saturation=10)
    b = behavioral("b", [signal("dl", "download", 4)], half_life=DAY, saturation=10)
    old = Engine([model([a, b], version=1)])
    state = old.new_account(ACCOUNT)
    old.apply_event(state, event("e1", "page_view", T0))
    meta, blobs = old.dump(state)

    new = Engine([model([b, a], version=2)])
    restored = new.restore(ACCOUNT, meta, blobs, None)
    new.rescore(restored)

    # a's hit stays with a: 2 of the 20 points. Put in b's place it would count 4.
    assert total(new, restored) == pytest.approx(10.0)


def test_rescore_emits_changes_with_cause_rescore_and_adds_new_models() -> None:
    old = Engine([two_criteria(points=2, half_life_b=DAY, version=1)])
    state = old.new_account(ACCOUNT)
    old.apply_event(state, event("e1", "page_view", T0))  # 10: cold
    extra = dataclasses.replace(one_criterion(), id="extra")
    new = Engine([two_criteria(points=16, half_life_b=DAY, version=2), extra])
    changes = new.rescore(state)
    # a: x = 16 -> clamped 10 -> total 50: warm.
    assert [(c.model, c.tier, c.cause, c.seq) for c in changes] == [("nb", "warm", "rescore", 1)]
    assert state.tiers()["extra"] == "cold"


def test_a_model_new_to_a_restored_account_needs_a_rescore_that_evaluates_it() -> None:
    fit = model([values("industry", "industry", {"software": 10})], id="fit")
    old = Engine([one_criterion()])
    state = old.new_account(ACCOUNT)
    old.apply_profile(state, profile(T0, industry="software"))
    meta, blobs = old.dump(state)

    new = Engine([one_criterion(), fit])
    restored = new.restore(ACCOUNT, meta, blobs, state.profile)

    # A blob given as None (a hash field Redis did not have) is the same as none given.
    assert new.restore(ACCOUNT, meta, {**blobs, "fit": None}, state.profile).view() == (
        restored.view()
    )
    assert new.needs_rescore(restored)
    assert new.stale_models(restored) == ("fit",)  # new to the account; nb is current
    changes = new.rescore(restored)
    # The fit model's only criterion scores 10 of 10: total 100, hot at once.
    assert [(c.model, c.previous_tier, c.tier, c.cause) for c in changes] == [
        ("fit", "cold", "hot", "rescore")
    ]
    assert not new.needs_rescore(restored)


def test_a_new_account_restored_without_any_blob_needs_no_rescore() -> None:
    engine = Engine([one_criterion()])

    assert not engine.needs_rescore(engine.restore(ACCOUNT, None, {}, None))
    assert engine.stale_models(engine.restore(ACCOUNT, None, {}, None)) == ()


def test_standing_is_the_tier_and_total_of_the_latest_evaluation() -> None:
    engine = Engine([one_criterion(hysteresis=10.0)])
    state = engine.new_account(ACCOUNT)
    assert engine.standing(state, "nb") == ("cold", 0.0)
    for n, at in enumerate([T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * DAY]):
        engine.apply_event(state, event(f"e{n}", "page_view", at))
        score = engine.score(state, "nb")
        assert engine.standing(state, "nb") == (score.tier, score.total)
    meta, blobs = engine.dump(state)
    restored = engine.restore(ACCOUNT, meta, blobs, None)
    score = engine.score(restored, "nb")
    assert engine.standing(restored, "nb") == (score.tier, score.total)
