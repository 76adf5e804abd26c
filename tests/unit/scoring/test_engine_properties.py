"""Hypothesis properties of the engine, checked against an independent brute-force reference.

`brute_total` recomputes docs/scoring.md section 3 from the whole event history on every call (no
decayed sums, no ref, no counters kept between calls, no contact bound, no pruning): if the
engine's shortcuts were wrong, the two would disagree. `admitted` is the contract's clock:
which events of an arrival order count, the others being repeats or too late.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import Engine, UnknownModel
from scoring.messages import Event
from scoring.model import Model, PropertyValue
from scoring.state import AccountState
from tests.unit.factories import (
    ACCOUNT,
    DAY,
    HOUR,
    T0,
    bands,
    behavioral,
    breadth,
    event,
    model,
    profile,
    scoring_md_model,
    signal,
)

HALF_LIFE = 2 * DAY
SATURATION = 40.0
WINDOW = 5 * DAY
CONTACTS_SATURATION = 3.0
POINTS = {"pricing": 5.0, "view": 1.0, "download": 8.0, "demo": 20.0, "big": 4.0, "unsub": -10.0}
VIEW_CAP = 3


def properties_model(*, capped: bool) -> Model:
    return model(
        [
            bands("size", "employees", [(1000, 10), (100, 5)], weight=2),
            behavioral(
                "eng",
                [
                    signal("pricing", "page_view", 5, where={"url": {"contains": "/pricing"}}),
                    signal("view", "page_view", 1, daily_cap=VIEW_CAP if capped else None),
                    signal("download", "content_download", 8),
                    signal("demo", "form_submit", 20, where={"form": {"equals": "demo"}}),
                    signal("big", "form_submit", 4, where={"seats": {"gte": 10}}),
                    signal("unsub", "unsubscribe", -10),
                ],
                weight=3,
                half_life=HALF_LIFE,
                saturation=SATURATION,
            ),
            breadth("group", "eng", weight=1, window=WINDOW, saturation=CONTACTS_SATURATION),
        ]
    )


@dataclass(frozen=True)
class Raw:
    """An event as the reference sees it."""

    id: str
    type: str
    at: float
    contact: str | None
    props: dict[str, PropertyValue]


def signals_hit(e: Raw) -> list[str]:
    """Written from docs/scoring.md section 2 without the engine's matcher."""
    url, form, seats = e.props.get("url"), e.props.get("form"), e.props.get("seats")
    hit = []
    if e.type == "page_view":
        if isinstance(url, str) and "/pricing" in url.lower():
            hit.append("pricing")
        hit.append("view")
    elif e.type == "content_download":
        hit.append("download")
    elif e.type == "form_submit":
        if isinstance(form, str) and form.lower() == "demo":
            hit.append("demo")
        if isinstance(seats, int | float) and not isinstance(seats, bool) and seats >= 10:
            hit.append("big")
    elif e.type == "unsubscribe":
        hit.append("unsub")
    return hit


def admitted(events: Sequence[Raw], *, clock: float, lateness: float, window: float) -> list[Raw]:
    """The events that count, in arrival order, on an account whose clock starts at `clock`:
    a repeat of an id that counted within the dedupe window is ignored, and an event more than
    `lateness` before the clock is refused; neither moves the clock."""
    counted: list[Raw] = []
    seen: dict[str, float] = {}
    for e in events:
        if e.id in seen and seen[e.id] >= clock - window:
            continue
        if e.at < clock - lateness:
            continue
        seen[e.id] = e.at
        clock = max(clock, e.at)
        counted.append(e)
    return counted


def brute_total(events: Sequence[Raw], t: float, *, capped: bool, employees: float) -> float:
    """The total at `t` of the events that counted (`admitted`), in the order applied."""
    earned: list[tuple[str, float]] = []
    per_day: dict[tuple[str, int], int] = {}
    latest: dict[str, float] = {}
    for e in events:  # arrival order: the daily caps count in it
        for sig in signals_hit(e):
            if sig == "view" and capped:
                day = math.floor(e.at / 86400)
                if per_day.get((sig, day), 0) >= VIEW_CAP:
                    pass  # over the cap: earns nothing (still counts for breadth)
                else:
                    per_day[(sig, day)] = per_day.get((sig, day), 0) + 1
                    earned.append((sig, e.at))
            else:
                earned.append((sig, e.at))
            if POINTS[sig] > 0 and e.contact is not None:
                latest[e.contact] = max(latest.get(e.contact, -math.inf), e.at)
    x = sum(POINTS[sig] * 2 ** (-(t - at) / HALF_LIFE) for sig, at in earned if at <= t)
    s_eng = 10 * min(max(x / SATURATION, 0.0), 1.0)
    n = sum(1 for at in latest.values() if t - WINDOW < at <= t)
    s_group = 10 * min(n / CONTACTS_SATURATION, 1.0)
    s_size = 10.0 if employees >= 1000 else 5.0 if employees >= 100 else 0.0
    return 100 * (2 * s_size + 3 * s_eng + 1 * s_group) / (10 * 6)


ids = itertools.count()
types = st.sampled_from(["page_view", "content_download", "form_submit", "unsubscribe", "other"])
contacts = st.sampled_from([None, "ann", "bob", "cid", "dan", "eve"])
props: st.SearchStrategy[dict[str, PropertyValue]] = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(["/pricing", "/x/PRICING", "/docs", 7]),
        "form": st.sampled_from(["demo", "Demo", "trial", True]),
        "seats": st.sampled_from([5, 10, 12.5, True, "12"]),
    },
)
offsets = st.floats(0, 20 * DAY, allow_nan=False)


@st.composite
def raw_events(draw: st.DrawFn, positive_only: bool = False) -> Raw:
    kind = draw(st.sampled_from(["page_view", "content_download"]) if positive_only else types)
    return Raw(f"e{next(ids)}", kind, T0 + draw(offsets), draw(contacts), draw(props))


histories = st.lists(raw_events(), max_size=30)


@st.composite
def crowded_days(draw: st.DrawFn) -> list[Raw]:
    """Page views (capped signal `view`) crowded into three UTC days, in any order, some
    repeated: caps are hit on one day by events before and after the clock, and around
    midnights."""
    views = st.builds(
        lambda at, contact, url: Raw(f"v{next(ids)}", "page_view", T0 + at, contact, url),
        st.floats(0, 3 * DAY, allow_nan=False) | st.sampled_from([DAY - 1e-3, DAY, 2 * DAY]),
        contacts,
        st.sampled_from([{}, {"url": "/pricing"}]),
    )
    events = draw(st.lists(views, max_size=40))
    repeats = draw(st.lists(st.sampled_from(events), max_size=5)) if events else []
    return list(draw(st.permutations(events + repeats)))


lateness_and_window = st.sampled_from(
    [
        (0.0, DAY),
        (HOUR, DAY),
        (DAY, DAY),
        (2 * DAY, 7 * DAY),
        (7 * DAY, 7 * DAY),
        (30 * DAY, 30 * DAY),
    ]
)


def as_event(e: Raw) -> Event:
    return event(e.id, e.type, e.at, contact=e.contact, properties=e.props)


def run(engine: Engine, events: Sequence[Raw], employees: float = 500.0) -> AccountState:
    """The account after its profile (at T0, the clock's start) and `events` in this order."""
    state = engine.new_account(ACCOUNT)
    engine.apply_profile(state, profile(T0, employees=employees))
    for e in events:
        engine.apply_event(state, as_event(e))
    return state


@settings(max_examples=150, deadline=None)
@given(histories, st.booleans(), st.floats(0, 30 * DAY))
def test_total_stays_within_0_and_100(events: list[Raw], capped: bool, later: float) -> None:
    engine = Engine([properties_model(capped=capped)])
    state = run(engine, events, employees=5000)
    for at in (None, T0 + later):
        assert 0.0 <= engine.score(state, "nb", at).total <= 100.0


@settings(max_examples=100, deadline=None)
@given(histories, st.lists(st.floats(0, 40 * DAY), min_size=2, max_size=6))
def test_without_new_hits_engagement_never_rises(events: list[Raw], times: list[float]) -> None:
    engine = Engine([properties_model(capped=True)])
    state = run(engine, events)
    readings = [engine.score(state, "nb", T0 + t).engagement or 0.0 for t in sorted(times)]
    assert all(b <= a for a, b in itertools.pairwise(readings))


@settings(max_examples=100, deadline=None)
@given(histories, raw_events(positive_only=True), st.booleans())
def test_a_positive_hit_never_lowers_the_total(events: list[Raw], hit: Raw, capped: bool) -> None:
    engine = Engine([properties_model(capped=capped)])
    state = run(engine, events)
    at = max(state.clock, hit.at)
    before = engine.score(state, "nb", at).total
    engine.apply_event(
        state, event(hit.id, hit.type, hit.at, contact=hit.contact, properties=hit.props)
    )
    assert engine.score(state, "nb").total >= before - 1e-9


@settings(max_examples=100, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_order_of_events_does_not_change_totals_without_caps(
    events: list[Raw], rnd: random.Random
) -> None:
    # A lateness beyond the histories' 20 days: every order counts every event.
    engine = Engine(
        [properties_model(capped=False)], dedupe_window=30 * DAY, allowed_lateness=30 * DAY
    )
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = run(engine, events), run(engine, shuffled)
    for later in (0.0, DAY, 7 * DAY):
        at = a.clock + later
        assert engine.score(a, "nb", at).total == pytest.approx(
            engine.score(b, "nb", at).total, abs=1e-6
        )


@settings(max_examples=200, deadline=None)
@given(histories | crowded_days(), st.booleans(), st.floats(0, 10 * DAY), lateness_and_window)
def test_engine_equals_the_brute_force_reference_in_any_order(
    events: list[Raw], capped: bool, later: float, limits: tuple[float, float]
) -> None:
    lateness, window = limits
    engine = Engine(
        [properties_model(capped=capped)], dedupe_window=window, allowed_lateness=lateness
    )
    state = run(engine, events)
    counted = admitted(events, clock=T0, lateness=lateness, window=window)
    assert state.clock == max([T0] + [e.at for e in counted])
    t = state.clock + later
    expected = brute_total(counted, t, capped=capped, employees=500.0)
    assert engine.score(state, "nb", t).total == pytest.approx(expected, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(crowded_days(), crowded_days(), raw_events(), lateness_and_window)
def test_events_beyond_the_allowed_lateness_change_nothing(
    first: list[Raw], then: list[Raw], late: Raw, limits: tuple[float, float]
) -> None:
    lateness, window = limits
    engine = Engine(
        [properties_model(capped=True)], dedupe_window=window, allowed_lateness=lateness
    )
    state, without = run(engine, first), run(engine, first)
    too_late = dataclasses.replace(late, at=math.nextafter(state.clock - lateness, -math.inf))
    before = state.view()
    outcome = engine.apply_event(state, as_event(too_late))
    assert outcome.too_late_by is not None and outcome.too_late_by > lateness
    assert (outcome.duplicate, outcome.changes) == (False, ())
    assert state.view() == before  # clock, caps, contacts, dedupe: all as they were
    for e in then:  # and whatever comes after goes as if it had never come
        assert engine.apply_event(state, as_event(e)) == engine.apply_event(without, as_event(e))
    assert engine.dump(state) == engine.dump(without)


@settings(max_examples=60, deadline=None)
@given(histories, histories)
def test_dump_restore_mid_stream_changes_nothing(first: list[Raw], second: list[Raw]) -> None:
    engine = Engine([properties_model(capped=True)])
    live = run(engine, first)
    meta, blobs = engine.dump(live)
    restored = engine.restore(ACCOUNT, meta, blobs, live.profile)
    for e in second:
        raw = event(e.id, e.type, e.at, contact=e.contact, properties=e.props)
        got = engine.apply_event(restored, raw)
        assert got == engine.apply_event(live, raw)
    assert engine.score(restored, "nb") == engine.score(live, "nb")


@settings(max_examples=60, deadline=None)
@given(st.lists(histories, max_size=4))
def test_dump_many_equals_dump_due_time_and_standing_state_by_state(
    accounts: list[list[Raw]],
) -> None:
    engine = Engine([properties_model(capped=True), scoring_md_model()])
    dumped = engine.dump_many([run(engine, events) for events in accounts])
    assert dumped.metas is not None
    for i, events in enumerate(accounts):
        state = run(engine, events)
        meta, blobs = engine.dump(state)
        assert (dumped.metas[i], dumped.blobs[i]) == (meta, tuple(blobs.values()))
        times = [engine.next_tier_change_time(state, m.id) for m in engine.models]
        due = struct.unpack_from("<d", dumped.due_times, 8 * i)[0]
        known = [t for t in times if t is not None]
        assert (due == min(known)) if known else math.isnan(due)
        for m, scored in enumerate(engine.models):
            tier, total = engine.standing(state, scored.id)
            assert dumped.tiers[m][i] == [t.name for t in scored.tiers].index(tier)
            assert struct.unpack_from("<d", dumped.totals[m], 8 * i)[0] == total
    assert len(dumped.metas) == len(dumped.blobs) == len(accounts)
    assert len(dumped.due_times) == 8 * len(accounts)
    assert [len(t) for t in dumped.tiers] == [len(accounts)] * 2
    assert [len(t) for t in dumped.totals] == [8 * len(accounts)] * 2
    # Some models only, in the order asked: their blobs (no meta), standings; the same due time.
    states = [run(engine, events) for events in accounts]
    some = engine.dump_many(states, ["new-business"])
    assert some.metas is None
    assert some.due_times == dumped.due_times
    assert (some.tiers, some.totals) == (dumped.tiers[1:], dumped.totals[1:])
    for state, blobs in zip(states, some.blobs, strict=True):
        assert blobs == (engine.dump(state)[1]["new-business"],)
    assert engine.dump_many(states, []).blobs == ((),) * len(accounts)
    both = engine.dump_many(states, ["new-business", "nb"])  # in the order asked
    assert (both.tiers, both.totals) == (dumped.tiers[::-1], dumped.totals[::-1])
    assert [b[::-1] for b in both.blobs] == list(dumped.blobs)


def test_dump_many_refuses_a_model_it_does_not_have() -> None:
    engine = Engine([properties_model(capped=True)])
    with pytest.raises(UnknownModel):
        engine.dump_many([engine.new_account(ACCOUNT)], ["expansion"])
