"""The scoring engine: SCORING.md section 3, exactly, as pure functions of state and input.

The live pipeline, the offline replay, the backtest and the rescoring job all call `Engine`:
for the same models, profiles and per-account event order they get the same numbers. Time is
always an argument (Unix epoch seconds, UTC); nothing here reads the wall clock or does I/O.

Per event the engine mutates the account's `AccountState` in place and evaluates every model at
the account clock; a change of tier comes out as a `TierChange`, whose explanation is built on
first read from a snapshot taken at the change. docs/state.md explains the state, why each
shortcut is exact, and where it is not.

Split of the work: this module compiles the models (criteria by kind, `where` tests, an index
per event type of the signals an event can hit) and turns what the core computes into Python
values (`TierChange`, `Score`, `Explanation`). The account state and everything done to it per
event or per stored account (decayed sums, caps, contacts, profile criteria, evaluation,
tiers, the codec, rescoring, the next decay-driven change) and the explanations' numbers and
words are the native core `scoring._core` (Rust, `scoring/native/`), because the replay must
reach 100k events/s on one core. It follows the float operations of the formulas in the same
order, so its numbers are the ones docs/state.md derives.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scoring import _core
from scoring.errors import ScoringError
from scoring.explain import CriterionExplanation, Explanation, SignalExplanation
from scoring.messages import Event, Profile
from scoring.model import (
    BandsCriterion,
    BehavioralCriterion,
    BreadthCriterion,
    Condition,
    Model,
    ProfileCriterion,
    PropertyValue,
    ValuesCriterion,
)
from scoring.state import AccountState, StateDecodeError

Cause = Literal["event", "profile", "decay", "rescore"]


class WrongAccount(ScoringError):
    """An event or profile handed to the engine with another account's state."""


class UnknownModel(ScoringError):
    """A model id that the engine has not loaded."""


@dataclass(frozen=True, slots=True)
class TierChange:
    """One score-change event: the tier of `account_id` under `model` changed at `at`."""

    account_id: str
    model: str
    model_version: int
    seq: int  # 1, 2, 3... per account and model
    previous_tier: str  # the lowest tier for the first change
    tier: str
    previous_total: float  # total of the evaluation before this one
    total: float
    fit: float | None  # None when the model has no firmographic/technographic criteria
    engagement: float | None  # None when the model has no behavioral/breadth criteria
    cause: Cause
    at: float  # the account clock at which it was evaluated
    _explanation: _DeferredExplanation = field(repr=False, hash=False)

    @property
    def explanation(self) -> Explanation:
        """The explanation at `at` (SCORING.md section 4), built on first read from a snapshot
        of the state taken at the change: later input does not alter it."""
        return self._explanation.get()


class _DeferredExplanation:
    """An explanation built on first `get()` from what it reads, captured at a tier change.

    Most consumers of changes (the replay's --changes file, filters) never read explanations,
    and building one costs many times the capture (a native copy of the numbers). Equal when the
    explanations are equal, so `TierChange` equality still covers its explanation (its hash does
    not: explanations are not hashable).
    """

    __slots__ = ("_compiled", "_core", "_snapshot", "_value")

    def __init__(self, core: _core.Core, compiled: _Compiled, snapshot: _core.Snapshot) -> None:
        self._core = core
        self._compiled = compiled
        self._snapshot = snapshot
        self._value: Explanation | None = None

    def get(self) -> Explanation:
        """The explanation (built once, then cached)."""
        if self._value is None:
            raw = self._core.explain_snapshot(self._snapshot)
            self._value = self._compiled.explanation(raw)
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _DeferredExplanation):
            return NotImplemented
        return self.get() == other.get()

    __hash__ = None  # type: ignore[assignment]  # like the Explanation it holds


@dataclass(frozen=True, slots=True)
class Score:
    """A read of one account x model at time `clock` (nothing is mutated)."""

    account_id: str
    model: str
    model_version: int
    total: float
    fit: float | None
    engagement: float | None
    tier: str  # the tier the account would be in after an evaluation at `clock`
    clock: float
    criteria: Mapping[str, float]  # criterion id -> score on 0..scale


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What `Engine.apply_event` did: ignored a duplicate, or applied and produced `changes`."""

    duplicate: bool
    changes: tuple[TierChange, ...]


_DUPLICATE = EventOutcome(duplicate=True, changes=())
_NO_CHANGE = EventOutcome(duplicate=False, changes=())


@dataclass(frozen=True, slots=True)
class DumpedStates:
    """`Engine.dump_many`'s answer, one entry per state in the order given.

    `records[i]`: the `<I4` (little-endian) length of each part, then the parts: the meta blob
    and each model's blob in load order, as `dump` gives them (with `models`: only those
    models' blobs, in that order). `due_times`: a `<d` per state, its earliest tier drop
    (`next_tier_change_time` over every model), NaN for none. `tiers[m]`: a byte per state, the
    index of its tier in the m-th model's tiers; `totals[m]`: a `<d` per state, its latest total
    (`standing`).
    """

    records: list[bytes]
    due_times: bytes
    tiers: list[bytes]
    totals: list[bytes]


def behavior_fingerprint(criterion: BehavioralCriterion) -> int:
    """32-bit digest of what a behavioral criterion's stored sums depend on: its id, half-life and
    each signal's id, event type, `where` and daily cap (not points, weight or saturation, which
    are applied at read time). Equal fingerprints across model versions mean history is kept."""
    signals = tuple(
        (s.id, s.event, tuple((c.property, c.op, c.value) for c in s.where), s.daily_cap)
        for s in criterion.signals
    )
    text = repr((criterion.id, float(criterion.half_life), signals))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


# --- profile criteria ------------------------------------------------------------------------


def _profile_spec(criterion: ProfileCriterion) -> tuple[object, ...]:
    """A firmographic or technographic criterion as the native core takes it: (field path,
    rule, bands, lower-cased table, default, missing, weight)."""
    path, missing, weight = list(criterion.field), criterion.missing, criterion.weight
    if isinstance(criterion, BandsCriterion):
        bands = [(band.min, band.score) for band in criterion.bands]
        return path, "bands", bands, {}, 0.0, missing, weight
    if isinstance(criterion, ValuesCriterion):
        return path, "values", [], dict(criterion.values), criterion.default, missing, weight
    return path, "any", [], dict(criterion.any), 0.0, missing, weight


# --- where ------------------------------------------------------------------------------------


def _lowered(value: PropertyValue) -> PropertyValue:
    return value.lower() if isinstance(value, str) else value


ConditionSpec = tuple[str, str, object]
_SignalSpec = tuple[int, int | None, bool, list[ConditionSpec]]
"""(signal index in its criterion, daily cap, counts for breadth, `where` tests): one signal
as `scoring._core.Core` takes it."""


def condition_spec(condition: Condition) -> ConditionSpec:
    """(property, op, expected) of a `where` condition as the native core tests it (SCORING.md
    section 2): expected strings lower-cased here, by Python, since actual values are compared
    lower-cased; `contains` needs a string, `gte`/`lte` a number (not a bool)."""
    expected = condition.value
    if isinstance(expected, tuple):
        return condition.property, condition.op, tuple(_lowered(e) for e in expected)
    return condition.property, condition.op, _lowered(expected)


# --- compiled models -------------------------------------------------------------------------


class _Behavior:
    """A behavioral criterion, compiled; `position` is its index among the model's behavioral
    criteria (and in the core's state)."""

    __slots__ = (
        "contact_keep",
        "contact_window",
        "criterion",
        "fingerprint",
        "half_life",
        "points",
        "position",
        "saturation",
        "signal_ids",
        "signal_range",
        "weight",
    )

    def __init__(self, criterion: BehavioralCriterion, position: int) -> None:
        self.criterion = criterion
        self.position = position
        self.weight = criterion.weight
        self.half_life = criterion.half_life
        self.saturation = criterion.saturation
        self.points = [s.points for s in criterion.signals]
        self.signal_ids = [s.id for s in criterion.signals]
        self.signal_range = range(len(criterion.signals))
        self.fingerprint = behavior_fingerprint(criterion)
        self.contact_keep = 0  # 0 = no breadth criterion counts this one's contacts
        self.contact_window = 0.0


class _Breadth:
    __slots__ = ("behavior", "criterion", "saturation", "weight", "window")

    def __init__(self, criterion: BreadthCriterion, behavior: int) -> None:
        self.criterion = criterion
        self.behavior = behavior  # position of the counted behavioral criterion
        self.weight = criterion.weight
        self.window = criterion.window
        self.saturation = criterion.saturation


_PROFILE, _BEHAVIORAL, _BREADTH = 0, 1, 2
"""Kind codes of `_Compiled.plan` (firmographic and technographic are both `_PROFILE`)."""


class _Compiled:
    """A model prepared for evaluation: criteria split by kind, normalisers, tier tables."""

    __slots__ = (
        "behaviors",
        "breadths",
        "engagement_norm",
        "fit_norm",
        "hysteresis",
        "id",
        "model",
        "norm",
        "plan",
        "profile",
        "scale",
        "tier_mins",
        "tier_names",
        "version",
    )

    def __init__(self, model: Model) -> None:
        self.model = model
        self.id = model.id
        self.version = model.version
        self.scale = model.scale
        self.hysteresis = model.hysteresis
        self.tier_names = [t.name for t in model.tiers]
        self.tier_mins = [t.min for t in model.tiers]
        self.profile: list[ProfileCriterion] = []
        self.behaviors: list[_Behavior] = []
        self.breadths: list[_Breadth] = []
        positions: dict[str, _Behavior] = {}
        for criterion in model.criteria:
            if isinstance(criterion, BehavioralCriterion):
                if len(criterion.signals) > 255:
                    raise ScoringError(f"{model.id}: {criterion.id}: more than 255 signals")
                behavior = _Behavior(criterion, len(self.behaviors))
                self.behaviors.append(behavior)
                positions[criterion.id] = behavior
            elif not isinstance(criterion, BreadthCriterion):
                self.profile.append(criterion)
        if len(self.behaviors) > 255:
            raise ScoringError(f"{model.id}: more than 255 behavioral criteria")
        for criterion in model.criteria:
            if isinstance(criterion, BreadthCriterion):
                counted = positions.get(criterion.of)
                if counted is None:
                    raise ScoringError(f"{model.id}: {criterion.id}: no behavioral {criterion.of}")
                # Keeping the K most recent contacts within the widest window is exact for the
                # clamped score: once K are in the window, n >= saturation whatever the rest do.
                counted.contact_keep = max(counted.contact_keep, math.ceil(criterion.saturation))
                counted.contact_window = max(counted.contact_window, criterion.window)
                self.breadths.append(_Breadth(criterion, counted.position))
        fit_weight = sum(c.weight for c in self.profile)
        engagement_weight = sum(c.weight for c in model.criteria) - fit_weight
        self.norm = 100.0 / (model.scale * (fit_weight + engagement_weight))
        self.fit_norm = 100.0 / (model.scale * fit_weight) if self.profile else 0.0
        has_engagement = bool(self.behaviors or self.breadths)
        self.engagement_norm = 100.0 / (model.scale * engagement_weight) if has_engagement else 0.0
        # Per criterion in model order, for explanations: (kind code, index in its kind's list,
        # norm * weight, id, kind, weight). norm * weight * score is the contribution.
        self.plan: list[tuple[int, int, float, str, str, float]] = []
        counters = {_PROFILE: 0, _BEHAVIORAL: 0, _BREADTH: 0}
        for criterion in model.criteria:
            if isinstance(criterion, BehavioralCriterion):
                code = _BEHAVIORAL
            elif isinstance(criterion, BreadthCriterion):
                code = _BREADTH
            else:
                code = _PROFILE
            share = self.norm * criterion.weight
            self.plan.append(
                (code, counters[code], share, criterion.id, criterion.kind, criterion.weight)
            )
            counters[code] += 1

    def native(self) -> tuple[object, ...]:
        """The model as `scoring._core.Core` takes it (see its docstring)."""
        scale = self.scale
        head = (
            self.id,
            self.version,
            scale,
            self.hysteresis,
            self.norm,
            self.fit_norm,
            self.engagement_norm,
            self.tier_names,
            self.tier_mins,
        )
        behaviors = [
            (
                b.fingerprint,
                b.half_life,
                b.points,
                b.contact_keep,
                b.contact_window,
                b.weight * scale,
                b.saturation,
                b.signal_ids,
            )
            for b in self.behaviors
        ]
        breadths = [(b.behavior, b.window, b.weight * scale, b.saturation) for b in self.breadths]
        return head, behaviors, breadths, [_profile_spec(c) for c in self.profile], self.plan

    def explanation(self, raw: _core.RawExplanation) -> Explanation:
        """The `Explanation` of the core's explanation tuple."""
        at, tier, total, fit, engagement, summary, raw_criteria = raw
        criteria = tuple(
            CriterionExplanation(
                plan[3],  # id
                plan[4],  # kind
                score,
                plan[5],  # weight
                contribution,
                tuple(SignalExplanation(*signal) for signal in signals),
                evidence,
            )
            for plan, (score, contribution, signals, evidence) in zip(
                self.plan, raw_criteria, strict=True
            )
        )
        return Explanation(
            model=self.id,
            model_version=self.version,
            at=at,
            tier=tier,
            total=total,
            fit=fit,
            engagement=engagement,
            criteria=criteria,
            summary=summary,
        )


# --- the engine ------------------------------------------------------------------------------


class Engine:
    """Scores accounts under a fixed set of models. Stateless itself: all state is passed in.

    Account states must come from this engine (`new_account`, `restore`) or be brought to its
    models by `rescore` first.
    """

    def __init__(self, models: Sequence[Model], *, dedupe_window: float = 7 * 86400.0) -> None:
        """Compile the models once: per event type, the (model, criterion, signal) entries that
        an event of that type is tested against. Raises ScoringError on duplicate model ids."""
        self.models: tuple[Model, ...] = tuple(models)
        self.dedupe_window = dedupe_window
        ids = [m.id for m in self.models]
        if len(set(ids)) != len(ids):
            raise ScoringError(f"model ids must be unique: {ids}")
        self._compiled = [_Compiled(m) for m in self.models]
        self._by_id = {c.id: c for c in self._compiled}
        # Per event type, the groups in model then criterion order, signals in model order: one
        # group per behavioral criterion, holding its signals of that type.
        groups: dict[str, list[tuple[int, int, list[_SignalSpec]]]] = {}
        for index, compiled in enumerate(self._compiled):
            for behavior in compiled.behaviors:
                signals = behavior.criterion.signals
                for event_type in dict.fromkeys(s.event for s in signals):
                    group = [
                        (
                            k,
                            s.daily_cap,
                            s.points > 0.0,  # breadth counts only hits of positive-points signals
                            [condition_spec(c) for c in s.where],
                        )
                        for k, s in enumerate(signals)
                        if s.event == event_type
                    ]
                    groups.setdefault(event_type, []).append((index, behavior.position, group))
        self._core = _core.Core([c.native() for c in self._compiled], groups, dedupe_window)

    # --- account lifecycle -------------------------------------------------------------------

    def new_account(self, account_id: str) -> AccountState:
        """An account never seen: no input, clock at -inf, lowest tier under every model."""
        return self._core.new_account(account_id)

    def restore(
        self,
        account_id: str,
        meta: bytes | None,
        model_blobs: Mapping[str, bytes | None],
        profile: Profile | None,
    ) -> AccountState:
        """Rebuild an account from `dump`'s blobs and its stored profile. Does not evaluate.

        A model without a blob (absent or None) starts empty (a new model; for an account with
        input it gets version 0, so `needs_rescore` is true and it is evaluated under the model
        before anything else); blobs of models not loaded are ignored. A blob written under
        another model version is fitted to the loaded version (see `rescore`) but keeps its old
        version number until `rescore` runs: call it when `needs_rescore` says so. Raises
        `StateDecodeError` on a corrupt blob.
        """
        blobs = [model_blobs.get(c.id) for c in self._compiled]
        try:
            return self._core.restore(account_id, meta, blobs, profile)
        except ValueError as err:
            raise StateDecodeError(str(err)) from err

    def dump(self, state: AccountState) -> tuple[bytes, dict[str, bytes]]:
        """(account meta blob, {model id: model-state blob}) for the loaded models.

        First prunes what can never count again (dedupe entries older than the window, contacts
        older than their widest window); the profile is not included (the pipeline stores it).
        """
        meta, blobs = self._core.dump(state)
        return meta, {c.id: blob for c, blob in zip(self._compiled, blobs, strict=True)}

    def dump_many(
        self, states: Sequence[AccountState], models: Sequence[str] | None = None
    ) -> DumpedStates:
        """What a batch writes of `states`, in one call: for each, `dump` (pruning too) as the
        entries of an account record (docs/redis-layout.md: `m` the meta, then each model's
        blob named `s` + the model id's 4-byte hash), its due time and its standing under every
        model, columnar (packed, so that a batch of accounts costs a few Python objects, not
        several per account). With `models`, the records hold only those models' blobs (no
        meta) and the standings are those models', in that order; the due time is still over
        every model.

        Equal, state by state, to `dump`, `min` of `next_tier_change_time` over the models and
        `standing`; a state holding a tier one of the ranked models does not have is refused
        (ValueError), as is an unknown model id (UnknownModel). The states must be distinct
        objects (each is borrowed to be pruned: RuntimeError otherwise).
        """
        chosen = None if models is None else [self._index(model) for model in models]
        records, due_times, tiers, totals = self._core.dump_many(list(states), chosen)
        return DumpedStates(records, due_times, tiers, totals)

    def tier_indexes(self, states: Sequence[AccountState]) -> list[bytes]:
        """Per state, a byte per loaded model (load order): the index of the state's tier in
        that model's tiers, 255 where the state holds no state of the model or a tier the model
        does not have (a state of another version)."""
        return self._core.tier_indexes(list(states))

    def needs_rescore(self, state: AccountState) -> bool:
        """True when some model state was computed under another version of its model."""
        return self._core.needs_rescore(state)

    def stale_models(self, state: AccountState) -> tuple[str, ...]:
        """The loaded models `rescore` would bring up to date on this state, in engine order:
        those computed under another version, and those new to the account (version 0)."""
        return tuple(self._core.stale_models(state))

    # --- input -------------------------------------------------------------------------------

    def apply_event(self, state: AccountState, event: Event) -> EventOutcome:
        """Apply one event to its account's state (mutated) and evaluate every model at the clock.

        A repeat of an event id already applied whose event time is within the dedupe window of
        the clock (`time >= clock - dedupe_window`) is ignored entirely, clock included. Otherwise
        the clock moves to max(clock, occurred_at); the event is tested against the signals of its
        type (none: it earns nothing); every model is evaluated (cause "event").
        Raises WrongAccount when `event.account_id` is not the state's.
        """
        if event.account_id != state.account_id:
            raise WrongAccount(
                f"event {event.event_id} of {event.account_id} on {state.account_id}"
            )
        result = self._core.apply_event(state, event)
        if result is None:
            return _NO_CHANGE
        if result is False:
            return _DUPLICATE
        return EventOutcome(duplicate=False, changes=self._changes(state, result, "event"))

    def apply_profile(self, state: AccountState, profile: Profile) -> tuple[TierChange, ...]:
        """Replace the account's whole profile, move the clock to max(clock, updated_at) and
        evaluate every model (cause "profile").

        Raises WrongAccount for another account's profile.
        """
        if profile.account_id != state.account_id:
            raise WrongAccount(f"profile of {profile.account_id} on {state.account_id}")
        raw = self._core.apply_profile(state, profile, profile.updated_at)
        return self._changes(state, raw, "profile")

    def evaluate(self, state: AccountState, at: float, cause: Cause) -> tuple[TierChange, ...]:
        """Move the clock to max(clock, at) and evaluate every model (decay sweep, replay as-of)."""
        return self._changes(state, self._core.evaluate(state, at), cause)

    def rescore(self, state: AccountState) -> tuple[TierChange, ...]:
        """Bring every model state to the engine's model versions and evaluate (cause "rescore").

        For each behavioral criterion, state whose fingerprint is unchanged is kept (exact: only
        points, weights, saturations or tiers changed); a changed or new criterion starts from
        zero and counts events from now on (exact history needs a replay). Tier and seq are kept.
        A model without state starts empty; states of models not loaded are dropped.
        """
        raw = self._core.rescore(state)
        return self._changes(state, raw, "rescore")

    # --- reads -------------------------------------------------------------------------------

    def score(self, state: AccountState, model_id: str, at: float | None = None) -> Score:
        """The score at max(clock, at) (at the clock when `at` is None); nothing is mutated."""
        compiled = self._compiled_model(model_id)
        t = _read_time(state, at)
        total, fit, engagement, tier, scores = self._core.score(state, model_id, t)
        return Score(
            account_id=state.account_id,
            model=compiled.id,
            model_version=compiled.version,
            total=total,
            fit=fit,
            engagement=engagement,
            tier=tier,
            clock=t,
            criteria={plan[3]: score for plan, score in zip(compiled.plan, scores, strict=True)},
        )

    def standing(self, state: AccountState, model_id: str) -> tuple[str, float]:
        """(tier, total) of the latest evaluation, without evaluating again.

        Equal to `score(state, model_id)`'s tier and total whenever the state was evaluated at
        its clock: every input (`apply_event`, `apply_profile`, `evaluate`, `rescore`) does so,
        and a state restored from `dump` keeps the evaluation it was dumped with.
        """
        self._compiled_model(model_id)
        return self._core.standing(state, model_id)

    def explain(self, state: AccountState, model_id: str, at: float | None = None) -> Explanation:
        """The explanation (SCORING.md section 4) at max(clock, at); nothing is mutated."""
        compiled = self._compiled_model(model_id)
        return compiled.explanation(self._core.explain(state, model_id, _read_time(state, at)))

    def score_lines(self, state: AccountState) -> bytes:
        """The account's output lines, one per model in load order, at its clock: exactly the
        bytes of `orjson.dumps(streams.offline.replay.score_line(score, explanation.to_dict()),
        option=OPT_APPEND_NEWLINE)` for `score(state, m)` and `explain(state, m)`, written by
        the core without building either (the replay's output; tests hold the two equal)."""
        return self._core.score_lines(state)

    def next_tier_change_time(self, state: AccountState, model_id: str) -> float | None:
        """Earliest time > clock at which, with no new input, evaluating would change the tier.

        Without input the total never rises (decayed sums shrink toward 0, breadth contacts
        leave their window), so the answer is where it first falls below min(current tier) -
        hysteresis. Found by doubling then bisection to within 10 ms, always returning a time at
        which the change has happened, so a sweep running every interval publishes the drop
        within one interval of the crossing (SCORING.md section 3). None when the tier is the
        lowest or the total's floor (fit alone) stays at or above the line. Returns the clock
        itself when the state was not evaluated at its clock and an evaluation now would
        already change the tier.
        """
        self._compiled_model(model_id)
        return self._core.next_tier_change_time(state, model_id)

    # --- internals ---------------------------------------------------------------------------

    def _compiled_model(self, model_id: str) -> _Compiled:
        compiled = self._by_id.get(model_id)
        if compiled is None:
            raise UnknownModel(f"model {model_id!r} is not loaded")
        return compiled

    def _index(self, model_id: str) -> int:
        """The model's place in load order (the core's index)."""
        return self._compiled.index(self._compiled_model(model_id))

    def _changes(
        self, state: AccountState, raw: list[_core.RawChange], cause: Cause
    ) -> tuple[TierChange, ...]:
        """`TierChange`s of the core's raw changes (rare: most evaluations change nothing)."""
        if not raw:
            return ()
        changes = []
        for (index, seq, previous_tier, tier), numbers, snapshot in raw:
            previous_total, total, fit, engagement, at = numbers
            compiled = self._compiled[index]
            changes.append(
                TierChange(
                    account_id=state.account_id,
                    model=compiled.id,
                    model_version=compiled.version,
                    seq=seq,
                    previous_tier=previous_tier,
                    tier=tier,
                    previous_total=previous_total,
                    total=total,
                    fit=fit,
                    engagement=engagement,
                    cause=cause,
                    at=at,
                    _explanation=_DeferredExplanation(self._core, compiled, snapshot),
                )
            )
        return tuple(changes)


def _read_time(state: AccountState, at: float | None) -> float:
    return state.clock if at is None else max(state.clock, at)
