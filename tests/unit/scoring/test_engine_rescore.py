"""docs/scoring.md section 3 for new model versions: rescoring keeps the history of unchanged
criteria and resets changed ones, models new to an account, restores without blobs, and the standing
(tier and total of the latest evaluation). Numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses

import pytest

from scoring.engine import Engine
from scoring.model import Model
from tests.unit.factories import (
    ACCOUNT,
    DAY,
    HOUR,
    T0,
    behavioral,
    event,
    model,
    profile,
    signal,
    values,
)
from tests.unit.scoring.engine_cases import one_criterion, total

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
