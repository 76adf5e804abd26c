"""The state codec: lossless round trips, compact blobs, refusal of foreign bytes."""

from __future__ import annotations

import dataclasses

import pytest
from factories import ACCOUNT, DAY, HOUR, T0, event, profile, scoring_md_model
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import Engine
from scoring.state import (
    AccountState,
    BehaviorState,
    ModelState,
    StateDecodeError,
    decode_account_meta,
    decode_model_state,
    encode_account_meta,
    encode_model_state,
)

Snapshot = tuple[object, ...]


def snapshot(ms: ModelState) -> Snapshot:
    """Everything the codec must keep (`fit_points` and `weighted` are caches, not stored)."""
    return (
        ms.version,
        ms.tier,
        ms.seq,
        ms.last_total,
        [
            (
                bs.fingerprint,
                bs.ref,
                bs.sums,
                bs.last_hit,
                bs.streak,
                bs.cap_day,
                bs.cap_today,
                bs.cap_yesterday,
                bs.contacts,
            )
            for bs in ms.behaviors
        ],
    )


def typical_account(engine: Engine) -> AccountState:
    """A profile, a few page views, a download and a demo request from two contacts."""
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=1200, industry="software"))
    engine.apply_event(state, event("p1", "page_view", T0 + HOUR, contact="ann", url="/pricing"))
    engine.apply_event(state, event("p2", "page_view", T0 + 2 * HOUR, contact="ann", url="/docs"))
    engine.apply_event(state, event("d1", "content_download", T0 + 3 * HOUR, contact="bob"))
    engine.apply_event(state, event("f1", "form_submit", T0 + DAY, contact="bob", form="demo"))
    return state


def test_model_state_round_trip_is_exact() -> None:
    engine = Engine([scoring_md_model()])
    state = typical_account(engine)
    ms = state.models["new-business"]
    assert snapshot(decode_model_state(encode_model_state(ms))) == snapshot(ms)


def test_account_meta_round_trip_is_exact() -> None:
    engine = Engine([scoring_md_model()])
    state = typical_account(engine)
    back = decode_account_meta(ACCOUNT, encode_account_meta(state))
    assert (back.account_id, back.clock, back.dedupe) == (ACCOUNT, state.clock, state.dedupe)
    assert len(state.dedupe) == 4


def test_typical_model_state_is_well_under_200_bytes() -> None:
    engine = Engine([scoring_md_model()])
    meta, blobs = engine.dump(typical_account(engine))
    # Head 18 + "warm" 4 + 1; one behavioral criterion 20; 4 signals hit 4 * 19; one capped
    # counter 9; 2 contacts 2 * 16: 23 + 20 + 76 + 9 + 32 = 160.
    assert len(blobs["new-business"]) == 160
    assert len(meta) == 9 + 4 * 16  # clock + four event ids


def test_dump_and_restore_continue_exactly_like_the_live_state() -> None:
    engine = Engine([scoring_md_model()])
    live = typical_account(engine)
    meta, blobs = engine.dump(live)
    restored = engine.restore(ACCOUNT, meta, blobs, live.profile)
    assert not engine.needs_rescore(restored)
    for state in (live, restored):
        engine.apply_event(state, event("p1", "page_view", T0 + 2 * DAY))  # a duplicate
        engine.apply_event(state, event("w1", "page_view", T0 + 2 * DAY, contact="cy"))
    assert restored.clock == live.clock
    assert engine.score(restored, "new-business") == engine.score(live, "new-business")
    later = T0 + 20 * DAY
    assert engine.explain(restored, "new-business", later) == engine.explain(
        live, "new-business", later
    )
    assert engine.next_tier_change_time(restored, "new-business") == engine.next_tier_change_time(
        live, "new-business"
    )


def test_restore_without_blobs_is_a_new_account_and_unloaded_models_are_dropped() -> None:
    engine = Engine([scoring_md_model()])
    state = engine.restore(ACCOUNT, None, {"gone": b"\x01"}, None)
    fresh = engine.new_account(ACCOUNT)
    assert snapshot(state.models["new-business"]) == snapshot(fresh.models["new-business"])
    assert state.clock == fresh.clock and list(state.models) == ["new-business"]
    state.models["gone"] = fresh.models["new-business"]
    _, blobs = engine.dump(state)
    assert list(blobs) == ["new-business"]


def test_dump_prunes_dedupe_entries_older_than_the_window() -> None:
    engine = Engine([scoring_md_model()], dedupe_window=DAY)
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("old", "page_view", T0))
    engine.apply_event(state, event("new", "page_view", T0 + 2 * DAY))
    meta, _ = engine.dump(state)
    assert len(decode_account_meta(ACCOUNT, meta).dedupe) == 1


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x02" + bytes(30), b"\x01\x00", None],
    ids=["empty", "unknown format", "truncated", "trailing bytes"],
)
def test_foreign_model_blobs_are_refused(blob: bytes | None) -> None:
    if blob is None:
        engine = Engine([scoring_md_model()])
        blob = encode_model_state(engine.new_account(ACCOUNT).models["new-business"]) + b"x"
    with pytest.raises(StateDecodeError):
        decode_model_state(blob)


@pytest.mark.parametrize("blob", [b"", b"\x02" + bytes(8), b"\x01" + bytes(8) + b"xyz"])
def test_foreign_meta_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(StateDecodeError):
        decode_account_meta(ACCOUNT, blob)


def test_restore_of_an_old_version_needs_a_rescore() -> None:
    old = Engine([scoring_md_model(version=3)])
    meta, blobs = old.dump(typical_account(old))
    new = Engine([scoring_md_model(version=4)])
    state = new.restore(ACCOUNT, meta, blobs, None)
    assert new.needs_rescore(state)
    new.rescore(state)
    assert not new.needs_rescore(state)


# --- property: any state survives a round trip -----------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
u32 = st.integers(0, 2**32 - 1)


@st.composite
def behavior_states(draw: st.DrawFn) -> BehaviorState:
    signals = draw(st.integers(0, 12))
    bs = BehaviorState(draw(u32), signals)
    bs.ref = draw(finite)
    bs.cap_day = draw(st.integers(-(2**31), 2**31 - 1))
    for k in range(signals):
        if draw(st.booleans()):
            bs.sums[k] = draw(finite)
            bs.last_hit[k] = draw(finite)
            bs.streak[k] = draw(st.integers(1, 0xFFFF))  # hit at least once
        bs.cap_today[k] = draw(st.integers(0, 1000))
        bs.cap_yesterday[k] = draw(st.integers(0, 1000))
    bs.contacts = draw(st.dictionaries(st.binary(min_size=8, max_size=8), finite, max_size=6))
    return bs


@st.composite
def model_states(draw: st.DrawFn) -> ModelState:
    return ModelState(
        draw(u32),
        draw(st.text(max_size=20)),
        draw(st.lists(behavior_states(), max_size=4)),
        seq=draw(u32),
        last_total=draw(finite),
    )


@settings(max_examples=150, deadline=None)
@given(model_states())
def test_any_model_state_round_trips(ms: ModelState) -> None:
    if len(ms.tier.encode()) > 255:
        return
    assert snapshot(decode_model_state(encode_model_state(ms))) == snapshot(ms)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(finite, st.just(float("-inf"))),
    st.dictionaries(st.binary(min_size=8, max_size=8), finite, max_size=20),
)
def test_any_account_meta_round_trips(clock: float, dedupe: dict[bytes, float]) -> None:
    state = AccountState(ACCOUNT, clock=clock)
    state.dedupe = dedupe
    back = decode_account_meta(ACCOUNT, encode_account_meta(state))
    assert (back.clock, back.dedupe) == (clock, dedupe)


def test_score_is_a_frozen_value() -> None:
    engine = Engine([scoring_md_model()])
    score = engine.score(typical_account(engine), "new-business")
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.total = 0.0  # type: ignore[misc]
