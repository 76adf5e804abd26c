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
from scoring.state import AccountState, StateDecodeError
from streams.store.records import pack_record, record_name
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


# Format 2 stored 8-byte digests, of which the reader keeps the first 6: these 2 are dropped.
WIDE_KEY_TAIL = b"\xa5\x5a"


def spec_key(key: bytes, format_: int) -> bytes:
    return key if format_ == 3 else key + WIDE_KEY_TAIL


def spec_model_blob(ms: Snapshot, format_: int = 3) -> bytes:
    """A model-state blob laid out as docs/state.md says (format 3, or 2: 8-byte digests)."""
    tier = ms["tier"].encode()
    parts = [bytes((format_,)), varint(ms["version"]), varint(ms["seq"]), bits(ms["last_total"])]
    parts += [bytes((len(tier),)), tier, bytes((len(ms["behaviors"]),))]
    for bs in ms["behaviors"]:
        signals = len(bs["sums"])
        hits = [k for k in range(signals) if bs["sums"][k] != 0.0 or bs["streak"][k]]
        caps = [k for k in range(signals) if bs["cap_today"][k] or bs["cap_yesterday"][k]]
        parts += [struct.pack("<IB", bs["fingerprint"], signals), spec_time(bs["ref"], 0)]
        parts += [varint(zigzag(bs["cap_day"])), bytes((len(hits), len(caps), len(bs["contacts"])))]
        anchor = anchor_of(bs["ref"])
        for k in hits:
            parts += [bytes((k,)), bits(bs["sums"][k]), spec_time(bs["last_hit"][k], anchor)]
            parts.append(varint(bs["streak"][k]))
        for k in caps:
            parts += [bytes((k,)), varint(bs["cap_today"][k]), varint(bs["cap_yesterday"][k])]
        for key, at in bs["contacts"].items():
            parts += [spec_key(key, format_), spec_time(at, anchor)]
    return b"".join(parts)


def spec_meta_blob(clock: float, dedupe: dict[bytes, float], format_: int = 3) -> bytes:
    anchor = anchor_of(clock)
    entries = (spec_key(key, format_) + spec_time(at, anchor) for key, at in dedupe.items())
    return bytes((format_,)) + spec_time(clock, 0) + b"".join(entries)


def legacy_model_blob(ms: Snapshot) -> bytes:
    """A model-state blob as format 1 laid it out (docs/state.md), which is still read. Its
    8-byte digests: a 6-byte key padded with zeros."""
    tier = ms["tier"].encode()
    parts = [struct.pack("<BIIdB", 1, ms["version"], ms["seq"], ms["last_total"], len(tier)), tier]
    parts.append(bytes((len(ms["behaviors"]),)))
    for bs in ms["behaviors"]:
        signals = len(bs["sums"])
        hits = [k for k in range(signals) if bs["sums"][k] != 0.0 or bs["streak"][k]]
        caps = [k for k in range(signals) if bs["cap_today"][k] or bs["cap_yesterday"][k]]
        head = (bs["fingerprint"], signals, bs["ref"], bs["cap_day"])
        parts.append(struct.pack("<IBdiBBB", *head, len(hits), len(caps), len(bs["contacts"])))
        parts.extend(
            struct.pack("<BddH", k, bs["sums"][k], bs["last_hit"][k], bs["streak"][k]) for k in hits
        )
        parts.extend(
            struct.pack("<BII", k, bs["cap_today"][k], bs["cap_yesterday"][k]) for k in caps
        )
        parts.extend(struct.pack("<8sd", key, at) for key, at in bs["contacts"].items())
    return b"".join(parts)


def legacy_meta_blob(clock: float, dedupe: dict[bytes, float]) -> bytes:
    entries = (struct.pack("<8sd", key, at) for key, at in dedupe.items())
    return struct.pack("<Bd", 1, clock) + b"".join(entries)


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
    # Head 12 + "warm" 4 + 1; one behavioral criterion 11 + its ref 7 (ms since 1970); 4 signals
    # hit 4 * 10 + their times 1, 4, 4, 5 (ms after the ref); one capped counter 3; 2 contacts
    # 2 * 6 + their times 4, 5: 17 + 18 + 54 + 3 + 21 = 113 (format 2: 117, format 1: 160).
    assert len(blobs["new-business"]) == 113
    # Format 3, the clock 7 (ms since 1970), four event ids 4 * 6 and their times 5, 5, 5, 1
    # (ms before the clock): 48 (format 2: 56, format 1: 73).
    assert len(meta) == 1 + 7 + 4 * 6 + 16


def test_one_demo_request_blob_sizes() -> None:
    engine = Engine([scoring_md_model()])
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("d1", "form_submit", T0, form="demo"))
    meta, blobs = engine.dump(state)
    # Head 12 + "cold" 4 + 1; the criterion 9 (its cap day 0 takes 1 byte: the demo request is
    # not capped) + its ref 7; the hit 11 (its time is the ref's): 17 + 16 + 11.
    assert len(blobs["new-business"]) == 44
    assert len(meta) == 1 + 7 + 6 + 1  # the clock, one event id and its time (the clock's)
    assert len(legacy_model_blob(model_view(state, "new-business"))) == 62


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


def test_dump_prunes_dedupe_entries_older_than_the_window() -> None:
    engine = Engine([scoring_md_model()], dedupe_window=DAY)
    state = engine.new_account(ACCOUNT)
    engine.apply_event(state, event("old", "page_view", T0))
    engine.apply_event(state, event("new", "page_view", T0 + 2 * DAY))
    meta, _ = engine.dump(state)
    assert len(_core.meta_view(meta)[1]) == 1


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x04" + bytes(30),
        b"\x01\x00",
        b"\x02\x01",
        b"\x02" + b"\xff" * 9 + b"\x02",
        b"\x02" + b"\x80" * 10 + b"\x01",
        b"\x02" + varint(2**32) + bytes(30),
        None,
    ],
    ids=[
        "empty",
        "unknown format",
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
        b"\x04" + bytes(8),
        b"\x01" + bytes(8) + b"xyz",
        b"\x02\x00" + bytes(7),  # a dedupe id cut short
        b"\x02\x00" + bytes(8),  # an id without its time
        b"\x02\x03",  # an unknown time tag
        b"\x02\x06",  # tag 2 (a double) with a count
        b"\x02\x02" + bytes(7),  # a double cut short
        b"\x03\x00" + bytes(5),  # a format 3 dedupe id cut short
        b"\x02" + varint(zigzag(2**53 + 1) << 2),  # a count no double holds exactly
        b"\x02" + varint(zigzag(-(2**53) - 1) << 2 | 1),
    ],
)
def test_foreign_meta_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(StateDecodeError):
        Engine([scoring_md_model()]).restore(ACCOUNT, blob, {}, None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cap_day", 2**31, "varint over 32 bits"),
        ("cap_today", 2**32, "varint over 32 bits"),
        ("seq", 2**32, "varint over 32 bits"),
    ],
)
def test_a_varint_beyond_its_fields_range_is_refused(field: str, value: int, message: str) -> None:
    engine = Engine([scoring_md_model()])
    view = model_view(engine.new_account(ACCOUNT), "new-business")
    if field == "seq":
        view["seq"] = value
    elif field == "cap_day":
        view["behaviors"][0]["cap_day"] = value
    else:
        view["behaviors"][0][field][0] = value
    with pytest.raises(StateDecodeError, match=message):
        engine.restore(ACCOUNT, None, {"new-business": spec_model_blob(view)}, None)


def test_a_streak_over_its_cap_is_refused() -> None:
    engine = Engine([scoring_md_model()])
    view = model_view(engine.new_account(ACCOUNT), "new-business")
    view["behaviors"][0]["streak"][0] = 0x10000  # format 1 could not even hold it
    with pytest.raises(StateDecodeError, match="streak 65536 over 65535"):
        engine.restore(ACCOUNT, None, {"new-business": spec_model_blob(view)}, None)


def test_a_signal_index_outside_the_criterion_is_refused() -> None:
    engine = Engine([scoring_md_model()])
    view = model_view(engine.new_account(ACCOUNT), "new-business")
    view["behaviors"][0]["streak"][0] = 1
    blob = bytearray(legacy_model_blob(view))
    blob[-19] = 200  # the one hit's signal index
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
    entries = {b"m": meta, record_name("s:new-business"): blobs["new-business"]}
    assert dumped.records == [pack_record(entries)]
    assert math.isnan(struct.unpack("<d", dumped.due_times)[0])
    assert engine.next_tier_change_time(state, "new-business") is None
    assert (dumped.tiers, dumped.totals) == (
        [bytes([2])],  # cold, the lowest of hot, warm, cold
        [struct.pack("<d", engine.standing(state, "new-business")[1])],
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
        "cap_day": draw(st.integers(-(2**31), 2**31 - 1)),
        "cap_today": [draw(st.integers(0, 1000)) for _ in range(signals)],
        "cap_yesterday": [draw(st.integers(0, 1000)) for _ in range(signals)],
    }
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
        "cap_day": 0,
        "cap_today": [0] * signals,
        "cap_yesterday": [0] * signals,
        "contacts": {bytes([k]) * 6: t for k, t in enumerate(times_)},
    }


@settings(max_examples=150, deadline=None)
@given(model_states())
def test_any_format_1_model_state_is_read_and_rewritten_in_format_3(ms: Snapshot) -> None:
    assert snapshot(_core.model_state_view(legacy_model_blob(ms))) == ms
    assert _core.reencode_model_state(legacy_model_blob(ms)) == spec_model_blob(ms)


@settings(max_examples=150, deadline=None)
@given(model_states())
def test_any_format_2_model_state_is_read_and_rewritten_in_format_3(ms: Snapshot) -> None:
    wide = spec_model_blob(ms, format_=2)
    assert snapshot(_core.model_state_view(wide)) == ms
    assert _core.reencode_model_state(wide) == spec_model_blob(ms)


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


@settings(max_examples=100, deadline=None)
@given(*meta_args)
def test_any_format_1_account_meta_is_read(clock: float, dedupe: dict[bytes, float]) -> None:
    read_clock, read_dedupe = _core.meta_view(legacy_meta_blob(clock, dedupe))
    assert bits(read_clock) == bits(clock)
    assert {key: bits(at) for key, at in read_dedupe.items()} == {
        key: bits(at) for key, at in dedupe.items()
    }
    assert _core.reencode_meta(legacy_meta_blob(clock, dedupe)) == spec_meta_blob(clock, dedupe)


@settings(max_examples=100, deadline=None)
@given(*meta_args)
def test_any_format_2_account_meta_is_read(clock: float, dedupe: dict[bytes, float]) -> None:
    wide = spec_meta_blob(clock, dedupe, format_=2)
    read_clock, read_dedupe = _core.meta_view(wide)
    assert bits(read_clock) == bits(clock)
    assert {key: bits(at) for key, at in read_dedupe.items()} == {
        key: bits(at) for key, at in dedupe.items()
    }
    assert _core.reencode_meta(wide) == spec_meta_blob(clock, dedupe)


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
    assert blob == b"\x03" + spec_time(anchor / 1e3, 0) + bytes(6) + encoded
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
