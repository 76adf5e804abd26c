"""docs/scoring.md section 3 for criteria: breadth (distinct contacts in a window), profile criteria
(bands, values, any; fields of the wrong type; missing profiles), fit and engagement sub-scores and
how the total weights criteria. Numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses

import pytest

from scoring.engine import Engine
from scoring.model import Model
from tests.unit.factories import (
    ACCOUNT,
    DAY,
    T0,
    any_of,
    bands,
    behavioral,
    event,
    model,
    profile,
    values,
)
from tests.unit.scoring.engine_cases import VIEW, breadth_model, breadth_score, one_criterion

# --- breadth ---------------------------------------------------------------------------------


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
