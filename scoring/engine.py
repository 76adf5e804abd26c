"""The scoring engine: docs/scoring.md section 3, exactly, as pure functions of state and input.

The live pipeline, the offline replay, the backtest and the rescoring job all call `Engine`:
for the same models, profiles and per-account event order they get the same numbers. Time is
always an argument (Unix epoch seconds, UTC); nothing here reads the wall clock or does I/O.

Per event the engine mutates the account's `AccountState` in place and evaluates every model at
the account clock; a change of tier comes out as a `TierChange`, whose explanation is built on
first read from a snapshot taken at the change. docs/state.md explains the state, why each
shortcut is exact, and where it is not.

Split of the work: `scoring.compile` compiles the models (criteria by kind, `where` tests, the
signals an event type can hit); this module turns what the core computes into Python values
(`TierChange`, `Score`, `Explanation`). The account state and everything done to it per
event or per stored account (decayed sums, caps, contacts, profile criteria, evaluation,
tiers, the codec, rescoring, the next decay-driven change) and the explanations' numbers and
words are the native core `scoring._core` (Rust, `scoring/native/`), because the replay must
reach 100k events/s on one core. It follows the float operations of the formulas in the same
order, so its numbers are the ones docs/state.md derives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scoring import _core
from scoring._core import DUPLICATE, UNCHANGED, DumpedStates
from scoring.compile import ModelSpec, compile_model, signal_groups
from scoring.errors import ScoringError
from scoring.explain import CriterionExplanation, Explanation, SignalExplanation
from scoring.messages import Event, Profile
from scoring.model import Model
from scoring.state import AccountState, StateDecodeError
from scoring.timefmt import format_rfc3339

__all__ = [
    "DEFAULT_ALLOWED_LATENESS",
    "DEFAULT_DEDUPE_WINDOW",
    "Cause",
    "DumpedStates",
    "Engine",
    "EventOutcome",
    "Score",
    "TierChange",
    "UnknownModel",
    "WrongAccount",
    "lateness_problem",
    "too_late_detail",
]

Cause = Literal["event", "profile", "decay", "rescore"]

DEFAULT_DEDUPE_WINDOW = 7 * 86400.0
DEFAULT_ALLOWED_LATENESS = 7 * 86400.0


def lateness_problem(allowed_lateness: float, dedupe_window: float) -> str | None:
    """Why an allowed lateness cannot go with a dedupe window (docs/scoring.md section 3: never
    more than the window, so that every event that may still count is remembered against its
    repeats), or None when it can."""
    if not allowed_lateness >= 0:
        return f"the allowed lateness ({allowed_lateness:g} s) must be 0 or more"
    if allowed_lateness > dedupe_window:
        return (
            f"the allowed lateness ({allowed_lateness:g} s) exceeds the dedupe window "
            f"({dedupe_window:g} s): an event that late could count twice"
        )
    return None


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
        """The explanation at `at` (docs/scoring.md section 4), built on first read from a snapshot
        of the state taken at the change: later input does not alter it."""
        return self._explanation.get()


class _DeferredExplanation:
    """An explanation built on first `get()` from what it reads, captured at a tier change.

    Most consumers of changes (the replay's --changes file, filters) never read explanations,
    and building one costs many times the capture (a native copy of the numbers). Equal when the
    explanations are equal, so `TierChange` equality still covers its explanation (its hash does
    not: explanations are not hashable).
    """

    __slots__ = ("_core", "_snapshot", "_spec", "_value")

    def __init__(self, core: _core.Core, spec: ModelSpec, snapshot: _core.Snapshot) -> None:
        self._core = core
        self._spec = spec
        self._snapshot = snapshot
        self._value: Explanation | None = None

    def get(self) -> Explanation:
        """The explanation (built once, then cached)."""
        if self._value is None:
            self._value = _explanation(self._spec, self._core.explain_snapshot(self._snapshot))
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
    """What `Engine.apply_event` did: ignored a duplicate, refused an event too late
    (`too_late_by`: how many seconds before the clock it lay), or applied it and produced
    `changes`. Ignored or refused, the event changed nothing."""

    duplicate: bool
    changes: tuple[TierChange, ...]
    too_late_by: float | None = None


_DUPLICATE = EventOutcome(duplicate=True, changes=())
_NO_CHANGE = EventOutcome(duplicate=False, changes=())


def _explanation(spec: ModelSpec, parts: _core.ExplanationParts) -> Explanation:
    """The `Explanation` of what the core explained."""
    criteria = tuple(
        CriterionExplanation(
            c.id,
            c.kind,
            c.score,
            c.weight,
            c.contribution,
            tuple(SignalExplanation(s.id, s.points, s.count, s.last_hit) for s in c.signals),
            c.evidence,
        )
        for c in parts.criteria
    )
    return Explanation(
        model=spec.id,
        model_version=spec.version,
        at=parts.at,
        tier=parts.tier,
        total=parts.total,
        fit=parts.fit,
        engagement=parts.engagement,
        criteria=criteria,
        summary=parts.summary,
    )


def too_late_detail(clock: float, too_late_by: float, allowed_lateness: float) -> str:
    """Why an event was refused as too late (the `too_late` dead letter's detail, the replay's
    rejects): the account's clock, how far before it the event lay, the allowed lateness."""
    return (
        f"occurred_at is {too_late_by!r} s before the account's clock {format_rfc3339(clock)}, "
        f"more than the allowed lateness of {allowed_lateness!r} s"
    )


# --- the engine ------------------------------------------------------------------------------


class Engine:
    """Scores accounts under a fixed set of models. Stateless itself: all state is passed in.

    Account states must come from this engine (`new_account`, `restore`) or be brought to its
    models by `rescore` first.
    """

    def __init__(
        self,
        models: Sequence[Model],
        *,
        dedupe_window: float = DEFAULT_DEDUPE_WINDOW,
        allowed_lateness: float = DEFAULT_ALLOWED_LATENESS,
    ) -> None:
        """Compile the models once: per event type, the (model, criterion, signal) entries that
        an event of that type is tested against. Raises ScoringError on duplicate model ids and
        on an allowed lateness that `lateness_problem` refuses."""
        self.models: tuple[Model, ...] = tuple(models)
        self.dedupe_window = dedupe_window
        self.allowed_lateness = allowed_lateness
        ids = [m.id for m in self.models]
        if len(set(ids)) != len(ids):
            raise ScoringError(f"model ids must be unique: {ids}")
        problem = lateness_problem(allowed_lateness, dedupe_window)
        if problem is not None:
            raise ScoringError(problem)
        self._specs = [compile_model(m) for m in self.models]
        self._by_id = {spec.id: spec for spec in self._specs}
        self._index_of = {spec.id: index for index, spec in enumerate(self._specs)}
        self._core = _core.Core(
            self._specs, signal_groups(self.models), dedupe_window, allowed_lateness
        )

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
        blobs = [model_blobs.get(spec.id) for spec in self._specs]
        try:
            return self._core.restore(account_id, meta, blobs, profile)
        except ValueError as err:
            raise StateDecodeError(str(err)) from err

    def dump(self, state: AccountState) -> tuple[bytes, dict[str, bytes]]:
        """(account meta blob, {model id: model-state blob}) for the loaded models.

        First prunes what can never count again (dedupe entries older than the window, contacts
        older than their widest window); the profile is not included (the pipeline stores it).
        """
        dumped = self._core.dump(state)
        ids = (spec.id for spec in self._specs)
        return dumped.meta, dict(zip(ids, dumped.blobs, strict=True))

    def dump_many(
        self, states: Sequence[AccountState], models: Sequence[str] | None = None
    ) -> DumpedStates:
        """What a batch writes of `states`, in one call: for each, `dump` (pruning too), its due
        time and its standing under every model, columnar (packed, so that a batch of accounts
        costs a few Python objects, not several per account and model): see
        `scoring._core.DumpedStates`. With `models`, only those models' blobs (no meta blobs)
        and standings, in that order; the due time is still over every model.

        Equal, state by state, to `dump`, `min` of `next_tier_change_time` over the models and
        `standing`; a state holding a tier one of the ranked models does not have is refused
        (ValueError), as is an unknown model id (UnknownModel). The states must be distinct
        objects (each is borrowed to be pruned: RuntimeError otherwise).
        """
        chosen = None if models is None else [self._index(model) for model in models]
        return self._core.dump_many(list(states), chosen)

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
        the clock (`time >= clock - dedupe_window`) is ignored entirely, clock included
        (`duplicate`). Otherwise an event whose `occurred_at` lies more than `allowed_lateness`
        before the clock is refused and changes nothing (`too_late_by`, docs/scoring.md section
        3). Otherwise the clock moves to max(clock, occurred_at); the event is tested against the
        signals of its type (none: it earns nothing), daily caps counting on the UTC day of its
        time; every model is evaluated (cause "event").
        Raises WrongAccount when `event.account_id` is not the state's.
        """
        if event.account_id != state.account_id:
            raise WrongAccount(
                f"event {event.event_id} of {event.account_id} on {state.account_id}"
            )
        result = self._core.apply_event(state, event)
        # The outcomes of most events are two objects: told apart by identity.
        if result is UNCHANGED:
            return _NO_CHANGE
        if result is DUPLICATE:
            return _DUPLICATE
        if result.too_late_by is not None:
            return EventOutcome(duplicate=False, changes=(), too_late_by=result.too_late_by)
        return EventOutcome(duplicate=False, changes=self._changes(state, result.changes, "event"))

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
        spec = self._spec(model_id)
        t = _read_time(state, at)
        parts = self._core.score(state, model_id, t)
        return Score(
            account_id=state.account_id,
            model=spec.id,
            model_version=spec.version,
            total=parts.total,
            fit=parts.fit,
            engagement=parts.engagement,
            tier=parts.tier,
            clock=t,
            criteria=dict(parts.criteria),
        )

    def standing(self, state: AccountState, model_id: str) -> tuple[str, float]:
        """(tier, total) of the latest evaluation, without evaluating again.

        Equal to `score(state, model_id)`'s tier and total whenever the state was evaluated at
        its clock: every input (`apply_event`, `apply_profile`, `evaluate`, `rescore`) does so,
        and a state restored from `dump` keeps the evaluation it was dumped with.
        """
        self._spec(model_id)
        return self._core.standing(state, model_id)

    def explain(self, state: AccountState, model_id: str, at: float | None = None) -> Explanation:
        """The explanation (docs/scoring.md section 4) at max(clock, at); nothing is mutated."""
        spec = self._spec(model_id)
        return _explanation(spec, self._core.explain(state, model_id, _read_time(state, at)))

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
        within one interval of the crossing (docs/scoring.md section 3). None when the tier is the
        lowest or the total's floor (fit alone) stays at or above the line. Returns the clock
        itself when the state was not evaluated at its clock and an evaluation now would
        already change the tier.
        """
        self._spec(model_id)
        return self._core.next_tier_change_time(state, model_id)

    # --- internals ---------------------------------------------------------------------------

    def _spec(self, model_id: str) -> ModelSpec:
        spec = self._by_id.get(model_id)
        if spec is None:
            raise UnknownModel(f"model {model_id!r} is not loaded")
        return spec

    def _index(self, model_id: str) -> int:
        """The model's place in load order (the core's index)."""
        self._spec(model_id)
        return self._index_of[model_id]

    def _changes(
        self, state: AccountState, parts: tuple[_core.TierChangeParts, ...], cause: Cause
    ) -> tuple[TierChange, ...]:
        """`TierChange`s of the core's changes (rare: most evaluations change nothing)."""
        if not parts:
            return ()
        changes = []
        for change in parts:
            spec = self._specs[change.model]
            changes.append(
                TierChange(
                    account_id=state.account_id,
                    model=spec.id,
                    model_version=spec.version,
                    seq=change.seq,
                    previous_tier=change.previous_tier,
                    tier=change.tier,
                    previous_total=change.previous_total,
                    total=change.total,
                    fit=change.fit,
                    engagement=change.engagement,
                    cause=cause,
                    at=change.at,
                    _explanation=_DeferredExplanation(self._core, spec, change.snapshot),
                )
            )
        return tuple(changes)


def _read_time(state: AccountState, at: float | None) -> float:
    return state.clock if at is None else max(state.clock, at)
