"""The state codec: lossless round trips, compact blobs, refusal of foreign bytes.

The layout is written out here a second time with `struct`, from docs/state.md, so the native
codec is checked against the document and not only against itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import struct
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import _core
from scoring.engine import Engine
from scoring.model import Tier
from scoring.state import CODEC_FORMAT, AccountState, StateDecodeError
from tests.unit.factories import ACCOUNT, DAY, HOUR, T0, event, profile, scoring_md_model

Snapshot = dict[str, Any]


def snapshot(view: dict[str, Any]) -> Snapshot:
    """Everything the codec must keep of a model view (`fit_*` and `weighted` are caches)."""
    kept = {key: view[key] for key in ("version", "tier", "seq", "last_total")}
    kept["behaviors"] = [
        {key: value for key, value in bs.items() if key != "weighted"} for bs in view["behaviors"]
    ]
    return kept


def model_view(state: AccountState, model_id: str) -> Snapshot:
    return snapshot(state.view()["models"][model_id])


def varint(value: int) -> bytes:
    """LEB128, as docs/state.md says."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def exact_count(t: float, per_second: int) -> int | None:
    """`t` as a whole count of 1/per_second seconds, if that count gives `t` back exactly."""
    scaled = t * per_second
    if not math.isfinite(scaled) or abs(scaled) > 2**53:
        return None
    half_away = math.floor(Fraction(abs(scaled)) + Fraction(1, 2))  # Rust's f64::round
    count = half_away if scaled >= 0 else -half_away
    return count if bits(count / per_second) == bits(t) else None


def anchor_of(t: float) -> int:
    """`t`'s whole milliseconds (floor), or 0 when it has none."""
    scaled = t * 1000
    return math.floor(scaled) if math.isfinite(scaled) and abs(scaled) <= 2**53 else 0


def spec_time(t: float, anchor: int) -> bytes:
    for per_second, tag in ((1000, 0), (1_000_000, 1)):
        count = exact_count(t, per_second)
        if count is not None and abs(delta := count - anchor * per_second // 1000) < 2**61:
            return varint(zigzag(delta) << 2 | tag)
    return varint(2) + bits(t)


def spec_model_blob(ms: Snapshot) -> bytes:
    """A model-state blob laid out as docs/state.md says."""
    tier = ms["tier"].encode()
    parts = [
        bytes((CODEC_FORMAT,)),
        varint(ms["version"]),
        varint(ms["seq"]),
        bits(ms["last_total"]),
    ]
    parts += [bytes((len(tier),)), tier, bytes((len(ms["behaviors"]),))]
    for bs in ms["behaviors"]:
        signals = len(bs["sums"])
        hits = [k for k in range(signals) if bs["sums"][k] != 0.0 or bs["streak"][k]]
        caps = bs["caps"]  # (day, signal, count), in (day, signal) order
        parts += [struct.pack("<IB", bs["fingerprint"], signals), spec_time(bs["ref"], 0)]
        parts += [bytes((len(hits),)), varint(len(caps)), bytes((len(bs["contacts"]),))]
        latest_day = caps[-1][0] if caps else 0
        if caps:
            parts.append(varint(zigzag(latest_day)))
        anchor = anchor_of(bs["ref"])
        for k in hits:
            parts += [bytes((k,)), bits(bs["sums"][k]), spec_time(bs["last_hit"][k], anchor)]
            parts.append(varint(bs["streak"][k]))
        for day, k, count in caps:
            parts += [bytes((k,)), varint(latest_day - day), varint(count)]
        for key, at in bs["contacts"].items():
            parts += [key, spec_time(at, anchor)]
    return b"".join(parts)


def spec_meta_blob(clock: float, dedupe: dict[bytes, float]) -> bytes:
    anchor = anchor_of(clock)
    entries = (key + spec_time(at, anchor) for key, at in dedupe.items())
    return bytes((CODEC_FORMAT,)) + spec_time(clock, 0) + b"".join(entries)


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
    _, blobs = engine.dump(state)
    assert snapshot(_core.model_state_view(blobs["new-business"])) == model_view(
        state, "new-business"
    )
    assert blobs["new-business"] == spec_model_blob(model_view(state, "new-business"))


def test_account_meta_round_trip_is_exact() -> None:
    engine = Engine([scoring_md_model()])
    state = typical_account(engine)
    meta, _ = engine.dump(state)
    view = state.view()
    assert _core.meta_view(meta) == (view["clock"], view["dedupe"])
    assert len(view["dedupe"]) == 4
    assert meta == spec_meta_blob(view["clock"], view["dedupe"])


def test_typical_blob_sizes() -> None:
    engine = Engine([scoring_md_model()])
    meta, blobs = engine.dump(typical_account(engine))
    # Head 12 + "warm" 4 + 1; one behavioral criterion 8 + its ref 7 (ms since 1970); its cap
    # day 3 (day 20,000 or so); 4 signals hit 4 * 10 + their times 1, 4, 4, 5 (ms after the
    # ref); one capped counter 3; 2 contacts 2 * 6 + their times 4, 5:
    # 17 + 15 + 3 + 54 + 3 + 21 = 113, as in format 3.
    assert len(blobs["new-business"]) == 113
    # The format, the clock 7 (ms since 1970), four event ids 4 * 6 and their times 5, 5, 5, 1
    # (ms before the clock): 48.
    assert len(meta) == 1 + 7 + 4 * 6 + 16


def test_one_demo_request_blob_sizes() -> None:
    engine = Engine([scoring_md_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("d1", "form_submit", T0, form="demo"))
    meta, blobs = engine.dump(state)
    # Head 12 + "cold" 4 + 1; the criterion 8 (no cap day: the demo request is not capped) + its
    # ref 7; the hit 11 (its time is the ref's): 17 + 15 + 11 (format 3 took a byte more).
    assert len(blobs["new-business"]) == 43
    assert len(meta) == 1 + 7 + 6 + 1  # the clock, one event id and its time (the clock's)


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
    assert model_view(state, "new-business") == model_view(fresh, "new-business")
    assert state.clock == fresh.clock and state.tiers() == {"new-business": "cold"}
    _, blobs = engine.dump(state)
    assert list(blobs) == ["new-business"]


def test_a_capped_hit_days_late_keeps_its_days_counter_until_no_hit_can_fall_on_it() -> None:
    engine = Engine([scoring_md_model()])
    state = typical_account(engine)
    size = len(engine.dump(state)[1]["new-business"])
    engine.apply_event(state, event("late", "page_view", T0 - 5 * DAY, url="/docs"))
    # A second counter of page_view (its index, 5 days before the latest, 1): 3 bytes.
    assert len(engine.dump(state)[1]["new-business"]) == size + 3
    engine.apply_event(state, event("later", "other", T0 + 3 * DAY))
    caps = model_view(state, "new-business")["behaviors"][0]["caps"]
    engine.dump(state)
    # The clock 7 days on: the day 5 days before T0 lies out of the allowed lateness.
    assert model_view(state, "new-business")["behaviors"][0]["caps"] == caps[1:]


def test_dump_prunes_dedupe_entries_older_than_the_window() -> None:
    engine = Engine([scoring_md_model()], dedupe_window=DAY, allowed_lateness=DAY)
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("old", "page_view", T0))
    engine.apply_event(state, event("new", "page_view", T0 + 2 * DAY))
    meta, _ = engine.dump(state)
    assert len(_core.meta_view(meta)[1]) == 1


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x05" + bytes(30),
        b"\x01" + bytes(30),
        b"\x03" + bytes(30),
        b"\x04\x00",
        b"\x04\x81",
        b"\x04" + b"\xff" * 9 + b"\x02",
        b"\x04" + b"\x80" * 10 + b"\x01",
        b"\x04" + varint(2**32) + bytes(30),
        None,
    ],
    ids=[
        "empty",
        "unknown format",
        "format 1",
        "format 3",
        "truncated",
        "truncated varint",
        "varint over 64 bits",
        "varint over 10 bytes",
        "version over 32 bits",
        "trailing",
    ],
)
def test_foreign_model_blobs_are_refused(blob: bytes | None) -> None:
    engine = Engine([scoring_md_model()])
    if blob is None:
        blob = engine.dump(engine.new_account(ACCOUNT))[1]["new-business"] + b"x"
    with pytest.raises(StateDecodeError):
        engine.restore(ACCOUNT, None, {"new-business": blob}, None)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x05" + bytes(8),
        b"\x01" + bytes(8),  # formats 1 to 3 are not read
        b"\x03\x00" + bytes(8),
        b"\x04\x00" + bytes(5),  # a dedupe id cut short
        b"\x04\x00" + bytes(6),  # an id without its time
        b"\x04\x03",  # an unknown time tag
        b"\x04\x06",  # tag 2 (a double) with a count
        b"\x04\x02" + bytes(7),  # a double cut short
        b"\x04" + varint(zigzag(2**53 + 1) << 2),  # a count no double holds exactly
        b"\x04" + varint(zigzag(-(2**53) - 1) << 2 | 1),
    ],
)
def test_foreign_meta_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(StateDecodeError):
        Engine([scoring_md_model()]).restore(ACCOUNT, blob, {}, None)


def test_another_format_is_refused_naming_it_and_the_one_this_version_reads() -> None:
    engine = Engine([scoring_md_model()])
    blob = bytearray(engine.dump(engine.new_account(ACCOUNT))[1]["new-business"])
    blob[0] = 3
    expected = "unknown model state format 3: this version reads format 4 only"
    with pytest.raises(StateDecodeError, match=expected):
        engine.restore(ACCOUNT, None, {"new-business": bytes(blob)}, None)
    with pytest.raises(StateDecodeError, match="unknown account meta format 3: .* format 4 only"):
        engine.restore(ACCOUNT, b"\x03" + bytes(8), {}, None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("caps", [(0, 0, 2**32)], "varint over 32 bits"),
        ("caps", [(0, 0, 0)], "a cap counter of 0"),
        ("caps", [(0, 0, 1), (-1, 0, 1), (0, 1, 1)], r"out of \(day, signal\) order"),
        ("caps", [(0, 1, 1), (0, 0, 1)], r"out of \(day, signal\) order"),
        ("caps", [(0, 0, 1), (0, 0, 1)], r"out of \(day, signal\) order"),
        ("caps", [(0, 9, 1)], "signal index 9 out of range"),
        ("seq", 2**32, "varint over 32 bits"),
    ],
)
def test_a_field_beyond_its_range_or_order_is_refused(field: str, value: Any, message: str) -> None:
    engine = Engine([scoring_md_model()])
    view = model_view(engine.new_account(ACCOUNT), "new-business")
    if field == "seq":
        view["seq"] = value
    else:
        view["behaviors"][0][field] = value
    with pytest.raises(StateDecodeError, match=message):
        engine.restore(ACCOUNT, None, {"new-business": spec_model_blob(view)}, None)


def test_a_streak_over_its_cap_is_refused() -> None:
    engine = Engine([scoring_md_model()])
    view = model_view(engine.new_account(ACCOUNT), "new-business")
    view["behaviors"][0]["streak"][0] = 0x10000
    with pytest.raises(StateDecodeError, match="streak 65536 over 65535"):
        engine.restore(ACCOUNT, None, {"new-business": spec_model_blob(view)}, None)


def test_a_signal_index_outside_the_criterion_is_refused() -> None:
    engine = Engine([scoring_md_model()])
    view = model_view(engine.new_account(ACCOUNT), "new-business")
    view["behaviors"][0]["streak"][0] = 1
    blob = bytearray(spec_model_blob(view))
    # The one hit, last: its signal index, sum (8 bytes), last hit (1: the ref's) and streak (1).
    blob[-11] = 200
    with pytest.raises(StateDecodeError, match="out of range"):
        engine.restore(ACCOUNT, None, {"new-business": bytes(blob)}, None)


def test_restore_of_an_old_version_needs_a_rescore() -> None:
    old = Engine([scoring_md_model(version=3)])
    meta, blobs = old.dump(typical_account(old))
    new = Engine([scoring_md_model(version=4)])
    state = new.restore(ACCOUNT, meta, blobs, None)
    assert new.needs_rescore(state)
    new.rescore(state)
    assert not new.needs_rescore(state)


def test_tier_indexes_name_each_models_tier_and_255_for_a_tier_or_model_it_does_not_have() -> None:
    old = Engine([scoring_md_model(version=3)])
    state = typical_account(old)
    tier = old.standing(state, "new-business")[0]
    assert old.tier_indexes([state]) == [bytes([["hot", "warm", "cold"].index(tier)])]
    renamed = dataclasses.replace(scoring_md_model(version=4), tiers=(Tier("a", 50), Tier("b", 0)))
    new = Engine([renamed, dataclasses.replace(scoring_md_model(), id="other")])
    meta, blobs = old.dump(state)
    restored = new.restore(ACCOUNT, meta, blobs, None)
    assert new.tier_indexes([restored, AccountState(ACCOUNT)]) == [b"\xff\x02", b"\xff\xff"]


def test_dump_many_of_a_new_account_is_its_dump_lowest_tiers_and_no_due_time() -> None:
    engine = Engine([scoring_md_model()])
    state = engine.new_account(ACCOUNT)
    dumped = engine.dump_many([state])
    meta, blobs = engine.dump(engine.new_account(ACCOUNT))
    assert (dumped.metas, dumped.blobs) == ((meta,), ((blobs["new-business"],),))
    assert math.isnan(struct.unpack("<d", dumped.due_times)[0])
    assert engine.next_tier_change_time(state, "new-business") is None
    assert (dumped.tiers, dumped.totals) == (
        (bytes([2]),),  # cold, the lowest of hot, warm, cold
        (struct.pack("<d", engine.standing(state, "new-business")[1]),),
    )


def test_dump_many_refuses_a_state_whose_tier_its_model_does_not_have() -> None:
    old = Engine([scoring_md_model(version=3)])
    meta, blobs = old.dump(typical_account(old))
    renamed = dataclasses.replace(scoring_md_model(version=4), tiers=(Tier("a", 50), Tier("b", 0)))
    new = Engine([renamed])
    state = new.restore(ACCOUNT, meta, blobs, None)
    with pytest.raises(ValueError, match="does not have"):
        new.dump_many([state])


# --- property: any state survives a round trip -----------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
u32 = st.integers(0, 2**32 - 1)
# Times: any double, and those the codec counts in milliseconds or microseconds (what the event
# parser gives), near today and anywhere a count stays exact.
times = st.one_of(
    finite,
    st.just(-0.0),
    st.integers(1_700_000_000_000, 1_900_000_000_000).map(lambda ms: ms / 1e3),
    st.integers(1_700_000_000_000_000, 1_900_000_000_000_000).map(lambda us: us / 1e6),
    st.integers(-(2**53), 2**53).map(lambda ms: ms / 1e3),
    st.integers(-(2**53), 2**53).map(lambda us: us / 1e6),
)


@st.composite
def behavior_states(draw: st.DrawFn) -> Snapshot:
    signals = draw(st.integers(0, 12))
    bs: Snapshot = {
        "fingerprint": draw(u32),
        "ref": draw(times),
        "sums": [0.0] * signals,
        "last_hit": [0.0] * signals,
        "streak": [0] * signals,
        "caps": [],
    }
    if signals:
        counters = st.tuples(st.integers(-(2**40), 2**40), st.integers(0, signals - 1))
        keys = sorted(draw(st.sets(counters, max_size=20)))
        bs["caps"] = [(day, k, draw(st.integers(1, 2**32 - 1))) for day, k in keys]
    for k in range(signals):
        if draw(st.booleans()):
            bs["sums"][k] = draw(finite)
            bs["last_hit"][k] = draw(times)
            bs["streak"][k] = draw(st.integers(1, 0xFFFF))  # hit at least once
    bs["contacts"] = draw(st.dictionaries(st.binary(min_size=6, max_size=6), times, max_size=6))
    return bs


@st.composite
def model_states(draw: st.DrawFn) -> Snapshot:
    return {
        "version": draw(u32),
        "tier": draw(st.text(max_size=20).filter(lambda t: len(t.encode()) <= 255)),
        "seq": draw(u32),
        "last_total": draw(finite),
        "behaviors": draw(st.lists(behavior_states(), max_size=4)),
    }


@settings(max_examples=300, deadline=None)
@given(model_states())
def test_any_model_state_round_trips(ms: Snapshot) -> None:
    blob = spec_model_blob(ms)
    assert snapshot(_core.model_state_view(blob)) == ms
    # Bytes equal, so every double came back with its bits (0.0 == -0.0 would not show it).
    assert _core.reencode_model_state(blob) == blob


@settings(max_examples=100, deadline=None)
@given(model_states(), st.lists(st.sampled_from([math.inf, -math.inf, math.nan]), min_size=1))
def test_infinite_and_nan_times_round_trip_as_doubles(ms: Snapshot, odd: list[float]) -> None:
    # Not from the engine, whose times are finite (the clock starts at -inf): the codec alone.
    ms["behaviors"].append(behavior_with_times(odd))
    blob = spec_model_blob(ms)
    assert _core.reencode_model_state(blob) == blob


def behavior_with_times(times_: list[float]) -> Snapshot:
    signals = len(times_)
    return {
        "fingerprint": 1,
        "ref": times_[0],
        "sums": [1.0] * signals,
        "last_hit": times_,
        "streak": [1] * signals,
        "caps": [],
        "contacts": {bytes([k]) * 6: t for k, t in enumerate(times_)},
    }


any_time = st.one_of(times, st.sampled_from([float("-inf"), float("inf"), float("nan")]))
meta_args = (any_time, st.dictionaries(st.binary(min_size=6, max_size=6), any_time, max_size=20))


@settings(max_examples=300, deadline=None)
@given(*meta_args)
def test_any_account_meta_round_trips(clock: float, dedupe: dict[bytes, float]) -> None:
    blob = spec_meta_blob(clock, dedupe)
    read_clock, read_dedupe = _core.meta_view(blob)
    assert _core.reencode_meta(blob) == blob
    assert bits(read_clock) == bits(clock)
    assert {key: bits(at) for key, at in read_dedupe.items()} == {
        key: bits(at) for key, at in dedupe.items()
    }


@pytest.mark.parametrize(
    ("t", "anchor", "encoded"),
    [
        (1_795_000_000.123, 1_795_000_000_000, varint(zigzag(123) << 2)),  # 2 bytes
        (1_795_000_000.123456, 1_795_000_000_000, varint(zigzag(123_456) << 2 | 1)),
        (1_794_999_999.0, 1_795_000_000_000, varint(zigzag(-1000) << 2)),
        (0.0, 0, b"\x00"),
        (-0.0, 0, b"\x02" + bits(-0.0)),  # a count has no sign of its own
        (0.1 + 0.2, 0, b"\x02" + bits(0.1 + 0.2)),  # no whole count of microseconds
        (float("-inf"), 0, b"\x02" + bits(float("-inf"))),
        (1e-6, 9_000_000_000_000_000, b"\x02" + bits(1e-6)),  # 2^61 microseconds or more away
        (1e-6, 0, varint(zigzag(1) << 2 | 1)),
    ],
)
def test_a_time_is_a_count_from_its_anchor_or_else_the_double(
    t: float, anchor: int, encoded: bytes
) -> None:
    assert spec_time(t, anchor) == encoded
    blob = spec_meta_blob(anchor / 1e3, {bytes(6): t})
    assert blob == b"\x04" + spec_time(anchor / 1e3, 0) + bytes(6) + encoded
    assert bits(_core.meta_view(blob)[1][bytes(6)]) == bits(t)


def test_score_is_a_frozen_value() -> None:
    engine = Engine([scoring_md_model()])
    score = engine.score(typical_account(engine), "new-business")
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.total = 0.0  # type: ignore[misc]


def test_event_and_contact_ids_are_kept_as_6_bytes_of_their_blake2b_digests() -> None:
    engine = Engine([scoring_md_model()])
    view = typical_account(engine).view()
    digest = lambda text: hashlib.blake2b(text.encode(), digest_size=8).digest()[:6]  # noqa: E731
    assert list(view["dedupe"]) == [digest(e) for e in ("p1", "p2", "d1", "f1")]
    contacts = view["models"]["new-business"]["behaviors"][0]["contacts"]
    assert set(contacts) == {digest("ann"), digest("bob")}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_the_native_digest_is_pythons_blake2b(text: str) -> None:
    assert _core.hash_id(text) == hashlib.blake2b(text.encode(), digest_size=8).digest()[:6]
