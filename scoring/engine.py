"""The scoring engine: SCORING.md section 3, exactly, as pure functions of state and input.

The live pipeline, the offline replay, the backtest and the rescoring job all call `Engine`:
for the same models, profiles and per-account event order they get the same numbers. Time is
always an argument (Unix epoch seconds, UTC); nothing here reads the wall clock or does I/O.

Per event the engine mutates the account's `AccountState` in place and evaluates every model at
the account clock; a change of tier comes out as a `TierChange`, whose explanation is built on
first read from a snapshot taken at the change. docs/state.md explains the state, why each
shortcut is exact, and where it is not.

The per-event path is kept lean on purpose (the replay must reach 100k events/s on one core):
an index per event type of precompiled groups (one per model and behavioral criterion, its
signals of that type inside), slotted classes, lists over dicts, shared constant outcomes, and
no dataclass built unless a tier changes. Profile criteria are scored when the profile changes,
never per event or per read.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import mul
from typing import Literal, NamedTuple, TypeGuard

from scoring.errors import ScoringError
from scoring.explain import (
    TOP_SIGNALS,
    CriterionExplanation,
    Explanation,
    SignalExplanation,
    behavioral_evidence,
    breadth_evidence,
    listed_items,
    profile_evidence,
    summarize,
)
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
from scoring.state import (
    MAX_STREAK,
    AccountState,
    BehaviorState,
    ModelState,
    decode_account_meta,
    decode_model_state,
    encode_account_meta,
    encode_model_state,
)
from scoring.timefmt import DAY

Cause = Literal["event", "profile", "decay", "rescore"]

REBASE_HALF_LIVES = 60.0
"""A hit more than this many half-lives after a criterion's `ref` rebases its sums first, so that
2^((t_j - ref) / half_life) stays far from float overflow (2^1024) while keeping full precision."""

NO_INPUT_CLOCK = -math.inf
DUE_PRECISION = 0.01  # seconds: how close to the crossing a scheduled tier drop is
"""The clock of an account that has had no input yet (max() with any time gives that time)."""


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
    and building one costs about five times the capture. Equal when the explanations are equal, so
    `TierChange` equality still covers its explanation (its hash does not: explanations are
    not hashable).
    """

    __slots__ = ("_compiled", "_moment", "_value")

    def __init__(self, compiled: _Compiled, moment: _Moment) -> None:
        self._compiled = compiled
        self._moment = moment
        self._value: Explanation | None = None

    def get(self) -> Explanation:
        """The explanation (built once, then cached)."""
        if self._value is None:
            self._value = self._compiled.explanation(self._moment)
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


def hash_id(text: str) -> bytes:
    """8-byte blake2b digest of an event or contact id: deterministic across processes and
    restarts (unlike `hash()`), and 2^-64 collision odds per pair are negligible."""
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


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


def lookup_field(fields: Mapping[str, object], path: Sequence[str]) -> object:
    """The value at a dotted `path` in a profile's fields; None when any step is absent."""
    value: object = fields
    for segment in path:
        # `type is dict` first: the usual case (decoded JSON), and isinstance(Mapping) is slow.
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(segment)
        else:
            return None
    return value


def _is_number(value: object) -> TypeGuard[int | float]:
    # JSON true/false decode to bool, a subclass of int: SCORING.md says a boolean is not a number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def profile_score(criterion: ProfileCriterion, value: object, scale: float) -> float:
    """Score (0..scale) of a firmographic/technographic criterion for a field value (None =
    absent). A value of the wrong type counts as absent and takes `missing`."""
    if isinstance(criterion, BandsCriterion):
        if not _is_number(value):
            return criterion.missing
        for band in criterion.bands:
            if value >= band.min:
                return band.score
        return 0.0  # below the last band's min
    if isinstance(criterion, ValuesCriterion):
        if isinstance(value, bool):
            # A boolean field (e.g. `customer`) scores only where the model lists true/false,
            # stored by the loader as the strings "true"/"false"; elsewhere it is the wrong type.
            key = "true" if value else "false"
            return criterion.values.get(key, criterion.missing)
        if not isinstance(value, str):
            return criterion.missing
        return criterion.values.get(value.lower(), criterion.default)
    if not isinstance(value, list):
        return criterion.missing
    return min(scale, sum(criterion.any[item.lower()] for item in listed_items(criterion, value)))


# --- where ------------------------------------------------------------------------------------

PropertyTest = Callable[[PropertyValue], bool]


def _equal(actual: PropertyValue, expected: PropertyValue) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and actual.lower() == expected
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual is expected
    return _is_number(actual) and actual == expected


def compile_condition(condition: Condition) -> PropertyTest:
    """A test of one property value for one `where` condition (SCORING.md section 2): strings
    compare case-insensitively, `contains` needs a string, `gte`/`lte` a number (not a bool)."""
    op, expected = condition.op, condition.value
    if isinstance(expected, tuple):
        options = tuple(e.lower() if isinstance(e, str) else e for e in expected)
        return lambda actual: any(_equal(actual, option) for option in options)
    if isinstance(expected, str):
        expected = expected.lower()  # the loader lower-cases already; this keeps it a contract
    if op == "equals":
        value = expected
        return lambda actual: _equal(actual, value)
    if op == "contains":
        needle = str(expected)
        return lambda actual: isinstance(actual, str) and needle in actual.lower()
    bound = float(expected)
    if op == "gte":
        return lambda actual: _is_number(actual) and actual >= bound
    return lambda actual: _is_number(actual) and actual <= bound


# --- compiled models -------------------------------------------------------------------------


class _Behavior:
    """A behavioral criterion, compiled. `position` indexes `ModelState.behaviors`."""

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


class _Group(NamedTuple):
    """The signals of one behavioral criterion of one model that an event type can hit: one
    item of the index of that type, so the criterion's state is looked up once per event.

    A tuple so that the per-event loop unpacks it in one step instead of seven attribute loads.
    """

    model_id: str
    behavior: int  # position in ModelState.behaviors
    half_life: float
    points: list[float]  # all the criterion's signals' points, to refresh `weighted`
    contact_keep: int  # K of the counting breadth criteria; 0 when contacts are not counted
    contact_window: float
    # Per signal, in model order: (index k, daily cap, counts for breadth, where tests).
    signals: tuple[tuple[int, int | None, bool, tuple[tuple[str, PropertyTest], ...]], ...]


def _group(model_id: str, behavior: _Behavior, event_type: str) -> _Group:
    """The group of `behavior`'s signals of type `event_type`."""
    signals = tuple(
        (
            k,
            definition.daily_cap,
            definition.points > 0.0,  # breadth counts only hits of positive-points signals
            tuple((c.property, compile_condition(c)) for c in definition.where),
        )
        for k, definition in enumerate(behavior.criterion.signals)
        if definition.event == event_type
    )
    return _Group(
        model_id,
        behavior.position,
        behavior.half_life,
        behavior.points,
        behavior.contact_keep,
        behavior.contact_window,
        signals,
    )


_PROFILE, _BEHAVIORAL, _BREADTH = 0, 1, 2
"""Kind codes of `_Compiled.plan` (firmographic and technographic are both `_PROFILE`)."""


class _Moment(NamedTuple):
    """What an explanation of one model at time `t` reads, so that it can be built later.

    `behaviors` holds per behavioral criterion (ref, weighted, sums, streak, last_hit), and
    `contacts` per breadth criterion the number of contacts in its window at `t`.
    """

    profile: Profile | None
    fit_scores: tuple[float, ...]
    fit_points: float
    engagement: float
    t: float
    tier: str
    behaviors: list[tuple[float, float, list[float], list[int], list[float]]]
    contacts: list[int]


def _first(item: tuple[float, int]) -> float:
    return item[0]


def _recent(contacts: dict[bytes, float], since: float) -> int:
    """n(t): contacts whose latest hit lies in (since, t] (none is later than the clock)."""
    n = 0
    for at in contacts.values():
        if at > since:
            n += 1
    return n


def _behavioral_score(
    scale: float, weighted: float, ref: float, t: float, behavior: _Behavior
) -> tuple[float, float]:
    """(score on 0..scale, decay factor from `ref` to `t`) of a behavioral criterion."""
    factor = 2.0 ** ((ref - t) / behavior.half_life)
    x = weighted * factor
    return (scale * min(x / behavior.saturation, 1.0) if x > 0.0 else 0.0), factor


class _Compiled:
    """A model prepared for evaluation: criteria split by kind, normalisers, tier tables."""

    __slots__ = (
        "behavior_terms",
        "behaviors",
        "breadth_terms",
        "breadths",
        "engagement_norm",
        "fit_norm",
        "hysteresis",
        "id",
        "model",
        "no_profile_fit",
        "norm",
        "plan",
        "profile",
        "profile_weights",
        "scale",
        "tier_bounds",
        "tier_index",
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
        self.tier_index = {name: i for i, name in enumerate(self.tier_names)}
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
        self.profile_weights = [c.weight for c in self.profile]
        # Without a profile every such criterion takes `missing`: the same for every account.
        missing = tuple(profile_score(c, None, model.scale) for c in self.profile)
        self.no_profile_fit = (missing, sum(map(mul, self.profile_weights, missing)))
        fit_weight = sum(c.weight for c in self.profile)
        engagement_weight = sum(c.weight for c in model.criteria) - fit_weight
        self.norm = 100.0 / (model.scale * (fit_weight + engagement_weight))
        self.fit_norm = 100.0 / (model.scale * fit_weight) if self.profile else 0.0
        has_engagement = bool(self.behaviors or self.breadths)
        self.engagement_norm = 100.0 / (model.scale * engagement_weight) if has_engagement else 0.0
        # Flat tuples for the per-event evaluation (unpacking beats attribute lookups).
        self.behavior_terms = [
            (b.position, b.half_life, b.weight * model.scale, b.saturation) for b in self.behaviors
        ]
        self.breadth_terms = [
            (b.behavior, b.window, b.weight * model.scale, b.saturation) for b in self.breadths
        ]
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
        # Per tier: the totals that keep it, [min - hysteresis, min of the tier above).
        self.tier_bounds = {
            name: (
                self.tier_mins[i] - model.hysteresis if i < len(self.tier_mins) - 1 else -math.inf,
                self.tier_mins[i - 1] if i else math.inf,
            )
            for i, name in enumerate(self.tier_names)
        }

    def fit(self, ms: ModelState, profile: Profile | None) -> None:
        """Set `ms.fit_scores` (per profile criterion) and `ms.fit_points` (sum of weight *
        score) for `profile`: they depend on the profile only, so they are computed when it
        changes (apply, restore, rescore) and never per event or per read."""
        if profile is None:
            ms.fit_scores, ms.fit_points = self.no_profile_fit
            return
        fields = profile.fields
        scale = self.scale
        scores = tuple(profile_score(c, lookup_field(fields, c.field), scale) for c in self.profile)
        ms.fit_scores = scores
        ms.fit_points = sum(map(mul, self.profile_weights, scores))

    def moment(
        self,
        profile: Profile | None,
        ms: ModelState,
        t: float,
        engagement: float,
        tier: str,
        *,
        keep: bool = False,
    ) -> _Moment:
        """What an explanation at `t` reads. Without `keep` it shares the state's per-signal
        lists (read it right away); with `keep` it copies them, since later hits mutate them in
        place (the profile is replaced, never mutated; `fit_scores` is a tuple)."""
        behaviors = ms.behaviors
        if keep:
            signals = [
                (bs.ref, bs.weighted, bs.sums[:], bs.streak[:], bs.last_hit[:]) for bs in behaviors
            ]
        else:
            signals = [(bs.ref, bs.weighted, bs.sums, bs.streak, bs.last_hit) for bs in behaviors]
        return _Moment(
            profile,
            ms.fit_scores,
            ms.fit_points,
            engagement,
            t,
            tier,
            signals,
            [_recent(behaviors[b].contacts, t - window) for b, window, _, _ in self.breadth_terms],
        )

    def explanation(self, m: _Moment) -> Explanation:
        """The explanation (SCORING.md section 4) of the moment `m`."""
        criteria = self.explained_criteria(m)
        total = (m.fit_points + m.engagement) * self.norm
        return Explanation(
            model=self.id,
            model_version=self.version,
            at=m.t,
            tier=m.tier,
            total=total,
            fit=m.fit_points * self.fit_norm if self.profile else None,
            engagement=m.engagement * self.engagement_norm if self.engagement_norm else None,
            criteria=criteria,
            summary=summarize(m.tier, total, criteria),
        )

    def explained_criteria(self, m: _Moment) -> tuple[CriterionExplanation, ...]:
        """Per criterion, in model order: score, weight, contribution, top signals, evidence."""
        scale = self.scale
        t = m.t
        fields = None if m.profile is None else m.profile.fields
        out = []
        for kind_code, index, share, criterion_id, kind, weight in self.plan:
            signals: tuple[SignalExplanation, ...] = ()
            if kind_code == _BEHAVIORAL:
                behavior = self.behaviors[index]
                ref, weighted, sums, streak, last_hit = m.behaviors[index]
                score, factor = _behavioral_score(scale, weighted, ref, t, behavior)
                points = behavior.points
                ranked = [
                    (points[k] * sums[k] * factor, k) for k in behavior.signal_range if streak[k]
                ]
                # Stable sort: signals of equal decayed points keep model order.
                ranked.sort(key=_first, reverse=True)
                ids = behavior.signal_ids
                signals = tuple(
                    SignalExplanation(ids[k], decayed, streak[k], last_hit[k])
                    for decayed, k in ranked[:TOP_SIGNALS]
                )
                evidence = behavioral_evidence(signals, t)
            elif kind_code == _BREADTH:
                n = m.contacts[index]
                score = scale * min(n / self.breadths[index].saturation, 1.0)
                evidence = breadth_evidence(n)
            else:
                criterion = self.profile[index]
                score = m.fit_scores[index]
                value = None if fields is None else lookup_field(fields, criterion.field)
                evidence = profile_evidence(criterion, value)
            out.append(
                CriterionExplanation(
                    criterion_id, kind, score, weight, share * score, signals, evidence
                )
            )
        return tuple(out)

    def criterion_scores(self, ms: ModelState, t: float) -> dict[str, float]:
        """Criterion id -> score (0..scale) at `t`, the numbers of `explained_criteria` without
        the evidence."""
        scale = self.scale
        behaviors = ms.behaviors
        scores = {}
        for kind_code, index, _, criterion_id, _, _ in self.plan:
            if kind_code == _BEHAVIORAL:
                behavior = self.behaviors[index]
                bs = behaviors[index]
                score = _behavioral_score(scale, bs.weighted, bs.ref, t, behavior)[0]
            elif kind_code == _BREADTH:
                breadth = self.breadths[index]
                n = _recent(behaviors[breadth.behavior].contacts, t - breadth.window)
                score = scale * min(n / breadth.saturation, 1.0)
            else:
                score = ms.fit_scores[index]
            scores[criterion_id] = score
        return scores

    def engagement_points(self, ms: ModelState, t: float) -> float:
        """Sum of weight * score over the behavioral and breadth criteria at time t >= clock."""
        points = 0.0
        behaviors = ms.behaviors
        for position, half_life, weight_scale, saturation in self.behavior_terms:
            bs = behaviors[position]
            weighted = bs.weighted
            if weighted > 0.0:  # a negative decayed sum scores 0 whatever time does
                x = weighted * 2.0 ** ((bs.ref - t) / half_life)
                points += weight_scale * (x / saturation if x < saturation else 1.0)
        for position, window, weight_scale, saturation in self.breadth_terms:
            since = t - window  # n(t) counts contacts in (t - window, t]
            n = 0
            for at in behaviors[position].contacts.values():
                if at > since:
                    n += 1
            if n:
                points += weight_scale * (n / saturation if n < saturation else 1.0)
        return points

    def tier_after(self, current: str, total: float) -> int:
        """Index of the tier after evaluating `total` from tier `current` (SCORING.md section 3)."""
        mins = self.tier_mins
        earned = len(mins) - 1
        for i, floor in enumerate(mins):
            if floor <= total:
                earned = i
                break
        held = self.tier_index.get(current)
        if held is None:  # a tier the model's new version no longer has: take the earned one
            return earned
        if earned < held:  # tiers are listed highest first
            return earned
        if earned > held and total < mins[held] - self.hysteresis:
            return earned
        return held


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
        # Per event type, the groups in model then criterion order, signals in model order.
        self._groups: dict[str, list[_Group]] = {}
        for compiled in self._compiled:
            for behavior in compiled.behaviors:
                for event_type in dict.fromkeys(s.event for s in behavior.criterion.signals):
                    group = _group(compiled.id, behavior, event_type)
                    self._groups.setdefault(event_type, []).append(group)

    # --- account lifecycle -------------------------------------------------------------------

    def new_account(self, account_id: str) -> AccountState:
        """An account never seen: no input, clock at -inf, lowest tier under every model."""
        state = AccountState(account_id, clock=NO_INPUT_CLOCK)
        for compiled in self._compiled:
            state.models[compiled.id] = self._fresh_model_state(compiled, state)
        return state

    def restore(
        self,
        account_id: str,
        meta: bytes | None,
        model_blobs: Mapping[str, bytes],
        profile: Profile | None,
    ) -> AccountState:
        """Rebuild an account from `dump`'s blobs and its stored profile. Does not evaluate.

        A model without a blob starts empty (a new model; for an account with input it needs a
        rescore); blobs of models not loaded are ignored. A blob written under another model
        version is fitted to the loaded version (see `rescore`) but keeps its old version number
        until `rescore` runs: call it when `needs_rescore` says so. Raises `StateDecodeError` on
        a corrupt blob.
        """
        if meta is None:
            state = AccountState(account_id, clock=NO_INPUT_CLOCK)
        else:
            state = decode_account_meta(account_id, meta)
        state.profile = profile
        state.dedupe_limit = 2 * len(state.dedupe)
        for compiled in self._compiled:
            blob = model_blobs.get(compiled.id)
            if blob is None:
                ms = self._fresh_model_state(compiled, state)
                if meta is not None:
                    # A model new to a known account: version 0 makes `needs_rescore` true, so
                    # the account is evaluated under it (cause `rescore`) before anything else.
                    ms.version = 0
                state.models[compiled.id] = ms
            else:
                ms = decode_model_state(blob)
                self._fit_behaviors(compiled, ms)
                compiled.fit(ms, profile)
                state.models[compiled.id] = ms
        return state

    def dump(self, state: AccountState) -> tuple[bytes, dict[str, bytes]]:
        """(account meta blob, {model id: model-state blob}) for the loaded models.

        First prunes what can never count again (dedupe entries older than the window, contacts
        older than their widest window); the profile is not included (the pipeline stores it).
        """
        self._prune_dedupe(state)
        blobs = {}
        for compiled in self._compiled:
            ms = state.models[compiled.id]
            for behavior in compiled.behaviors:
                if behavior.contact_keep:
                    _trim_contacts(
                        ms.behaviors[behavior.position],
                        behavior.contact_keep,
                        state.clock - behavior.contact_window,
                    )
            blobs[compiled.id] = encode_model_state(ms)
        return encode_account_meta(state), blobs

    def needs_rescore(self, state: AccountState) -> bool:
        """True when some model state was computed under another version of its model."""
        return any(state.models[c.id].version != c.version for c in self._compiled)

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
        key = hashlib.blake2b(event.event_id.encode(), digest_size=8).digest()  # hash_id, inlined
        t = event.occurred_at
        dedupe = state.dedupe
        seen = dedupe.get(key)
        if seen is not None and seen >= state.clock - self.dedupe_window:
            return _DUPLICATE
        dedupe[key] = t
        if t > state.clock:
            state.clock = t
        if len(dedupe) > state.dedupe_limit:
            self._prune_dedupe(state)
        groups = self._groups.get(event.type)
        if groups is not None:
            self._apply_hits(state, event, groups)
        changes = self._evaluate_all(state, "event")
        return EventOutcome(duplicate=False, changes=changes) if changes else _NO_CHANGE

    def apply_profile(self, state: AccountState, profile: Profile) -> tuple[TierChange, ...]:
        """Replace the account's whole profile, move the clock to max(clock, updated_at) and
        evaluate every model (cause "profile").

        Raises WrongAccount for another account's profile.
        """
        if profile.account_id != state.account_id:
            raise WrongAccount(f"profile of {profile.account_id} on {state.account_id}")
        state.profile = profile
        state.clock = max(state.clock, profile.updated_at)
        for compiled in self._compiled:
            compiled.fit(state.models[compiled.id], profile)
        return self._evaluate_all(state, "profile")

    def evaluate(self, state: AccountState, at: float, cause: Cause) -> tuple[TierChange, ...]:
        """Move the clock to max(clock, at) and evaluate every model (decay sweep, replay as-of)."""
        state.clock = max(state.clock, at)
        return self._evaluate_all(state, cause)

    def rescore(self, state: AccountState) -> tuple[TierChange, ...]:
        """Bring every model state to the engine's model versions and evaluate (cause "rescore").

        For each behavioral criterion, state whose fingerprint is unchanged is kept (exact: only
        points, weights, saturations or tiers changed); a changed or new criterion starts from
        zero and counts events from now on (exact history needs a replay). Tier and seq are kept.
        A model without state starts empty; states of models not loaded are dropped.
        """
        for model_id in [m for m in state.models if m not in self._by_id]:
            del state.models[model_id]
        for compiled in self._compiled:
            ms = state.models.get(compiled.id)
            if ms is None:
                state.models[compiled.id] = self._fresh_model_state(compiled, state)
                continue
            self._fit_behaviors(compiled, ms)
            ms.version = compiled.version
            compiled.fit(ms, state.profile)
        return self._evaluate_all(state, "rescore")

    # --- reads -------------------------------------------------------------------------------

    def score(self, state: AccountState, model_id: str, at: float | None = None) -> Score:
        """The score at max(clock, at) (at the clock when `at` is None); nothing is mutated."""
        compiled, ms = self._model(state, model_id)
        t = _read_time(state, at)
        engagement = compiled.engagement_points(ms, t)
        total = (ms.fit_points + engagement) * compiled.norm
        return Score(
            account_id=state.account_id,
            model=compiled.id,
            model_version=compiled.version,
            total=total,
            fit=ms.fit_points * compiled.fit_norm if compiled.profile else None,
            engagement=engagement * compiled.engagement_norm if compiled.engagement_norm else None,
            tier=compiled.tier_names[compiled.tier_after(ms.tier, total)],
            clock=t,
            criteria=compiled.criterion_scores(ms, t),
        )

    def standing(self, state: AccountState, model_id: str) -> tuple[str, float]:
        """(tier, total) of the latest evaluation, without evaluating again.

        Equal to `score(state, model_id)`'s tier and total whenever the state was evaluated at
        its clock: every input (`apply_event`, `apply_profile`, `evaluate`, `rescore`) does so,
        and a state restored from `dump` keeps the evaluation it was dumped with.
        """
        compiled, ms = self._model(state, model_id)
        return ms.tier, ms.last_total

    def explain(self, state: AccountState, model_id: str, at: float | None = None) -> Explanation:
        """The explanation (SCORING.md section 4) at max(clock, at); nothing is mutated."""
        compiled, ms = self._model(state, model_id)
        t = _read_time(state, at)
        engagement = compiled.engagement_points(ms, t)
        total = (ms.fit_points + engagement) * compiled.norm
        tier = compiled.tier_names[compiled.tier_after(ms.tier, total)]
        return compiled.explanation(compiled.moment(state.profile, ms, t, engagement, tier))

    def next_tier_change_time(self, state: AccountState, model_id: str) -> float | None:
        """Earliest time > clock at which, with no new input, evaluating would change the tier.

        Without input the total never rises (decayed sums shrink toward 0, breadth contacts
        leave their window), so the answer is where it first falls below min(current tier) -
        hysteresis. Found by doubling then bisection to within `DUE_PRECISION` (10 ms), always
        returning a time at which the change has happened, so a sweep running every interval
        publishes the drop within one interval of the crossing (SCORING.md section 3). None when
        the tier is the lowest or the total's floor (fit alone) stays at or above the line.
        Returns the clock itself when the state was not evaluated at its clock and an evaluation
        now would already change the tier.
        """
        compiled, ms = self._model(state, model_id)
        start = state.clock
        fit = ms.fit_points

        def total_at(t: float) -> float:
            return (fit + compiled.engagement_points(ms, t)) * compiled.norm

        held = compiled.tier_after(ms.tier, total_at(start))
        if compiled.tier_names[held] != ms.tier:
            return start
        if held == len(compiled.tier_names) - 1:
            return None
        line = compiled.tier_mins[held] - compiled.hysteresis
        if not total_at(math.inf) < line:  # the floor: every decayed sum and contact gone
            return None
        if not math.isfinite(start):  # no input yet means nothing decays, so nothing changes
            return None
        lo, step = start, 1.0
        while not total_at(start + step) < line:
            lo, step = start + step, step * 2.0
        hi = start + step
        while hi - lo > DUE_PRECISION:
            mid = (lo + hi) / 2.0
            if total_at(mid) < line:
                hi = mid
            else:
                lo = mid
        return hi

    # --- internals ---------------------------------------------------------------------------

    def _model(self, state: AccountState, model_id: str) -> tuple[_Compiled, ModelState]:
        compiled = self._by_id.get(model_id)
        if compiled is None:
            raise UnknownModel(f"model {model_id!r} is not loaded")
        return compiled, state.models[model_id]

    def _fresh_model_state(self, compiled: _Compiled, state: AccountState) -> ModelState:
        ms = ModelState(
            compiled.version,
            compiled.tier_names[-1],
            [BehaviorState(b.fingerprint, len(b.points)) for b in compiled.behaviors],
        )
        compiled.fit(ms, state.profile)
        # As if evaluated already: the previous_total of its first change is a real total.
        ms.last_total = ms.fit_points * compiled.norm
        return ms

    @staticmethod
    def _fit_behaviors(compiled: _Compiled, ms: ModelState) -> None:
        """Align `ms.behaviors` with the model: keep states by fingerprint, start others empty."""
        kept = {bs.fingerprint: bs for bs in ms.behaviors}
        fitted = []
        for behavior in compiled.behaviors:
            bs = kept.get(behavior.fingerprint)
            if bs is None or len(bs.sums) != len(behavior.points):
                bs = BehaviorState(behavior.fingerprint, len(behavior.points))
            bs.weighted = sum(map(mul, behavior.points, bs.sums))  # points may have changed
            fitted.append(bs)
        ms.behaviors = fitted

    def _prune_dedupe(self, state: AccountState) -> None:
        # Entries older than the window can never mark a repeat again (the clock only moves on);
        # pruning only when the map doubled keeps the per-event cost amortised O(1).
        oldest = state.clock - self.dedupe_window
        state.dedupe = {k: at for k, at in state.dedupe.items() if at >= oldest}
        state.dedupe_limit = max(64, 2 * len(state.dedupe))

    def _apply_hits(self, state: AccountState, event: Event, groups: list[_Group]) -> None:
        """Add the event's hits to the decayed sums, cap counters, streaks and contacts."""
        t = event.occurred_at
        clock = state.clock
        props = event.properties
        models = state.models
        days: tuple[int, int] | None = None  # (event's UTC day, clock's UTC day), when needed
        for model_id, position, half_life, points, keep, window, signals in groups:
            bs: BehaviorState | None = None
            earned = False
            counted = False  # a hit of a positive-points signal (breadth), earning or not
            for k, cap, positive, where in signals:
                if where:
                    matched = True
                    for name, test in where:  # all hold; a missing property never matches
                        value = props.get(name)
                        if value is None or not test(value):
                            matched = False
                            break
                    if not matched:
                        continue
                if bs is None:
                    bs = models[model_id].behaviors[position]
                if positive:
                    counted = True
                if cap is not None:
                    if days is None:
                        days = (int(t // DAY), int(clock // DAY))  # utc_day, inlined
                    day, clock_day = days
                    if bs.cap_day != clock_day:
                        bs.roll_caps(clock_day)
                    # Counters exist for the clock's UTC day and the day before; an older hit
                    # of a capped signal cannot be proven under its cap, so it earns nothing.
                    if day == clock_day:
                        counts = bs.cap_today
                    elif day == clock_day - 1:
                        counts = bs.cap_yesterday
                    else:
                        continue
                    if counts[k] >= cap:
                        continue
                    counts[k] += 1
                earned = True
                exponent = (t - bs.ref) / half_life
                if exponent > REBASE_HALF_LIVES:
                    factor = 2.0**-exponent
                    bs.sums = [d * factor for d in bs.sums]
                    bs.ref = t
                    exponent = 0.0
                bs.sums[k] += 2.0**exponent
                streak = bs.streak[k]
                last = bs.last_hit[k]
                if streak == 0 or t - last > half_life:
                    bs.streak[k] = 1
                elif streak < MAX_STREAK:
                    bs.streak[k] = streak + 1
                if streak == 0 or t > last:
                    bs.last_hit[k] = t
            if bs is None:
                continue
            if earned:
                # Once per criterion and event: the same sum as after each hit, from the same
                # final `sums`, so the float result is the same.
                bs.weighted = sum(map(mul, points, bs.sums))
            if counted and keep and event.contact_id is not None:
                contact = hash_id(event.contact_id)
                contacts = bs.contacts
                if contacts.get(contact, -math.inf) < t:
                    contacts[contact] = t
                    # Trimming at twice the bound keeps a superset of the K most recent (still
                    # exact) and sorts once per K new contacts instead of once per contact.
                    if len(contacts) > 2 * keep:
                        _trim_contacts(bs, keep, clock - window)

    def _evaluate_all(self, state: AccountState, cause: Cause) -> tuple[TierChange, ...]:
        """Evaluate every model at the clock; record totals, tiers and seq; return the changes."""
        t = state.clock
        models = state.models
        changes: list[TierChange] | None = None
        for compiled in self._compiled:
            ms = models[compiled.id]
            engagement = compiled.engagement_points(ms, t)
            total = (ms.fit_points + engagement) * compiled.norm
            previous_total = ms.last_total
            ms.last_total = total
            # The usual case: the total stays within the bounds that keep the current tier.
            bounds = compiled.tier_bounds.get(ms.tier)
            if bounds is not None and bounds[0] <= total < bounds[1]:
                continue
            tier = compiled.tier_names[compiled.tier_after(ms.tier, total)]
            if tier == ms.tier:
                continue
            previous_tier = ms.tier
            ms.tier = tier
            ms.seq += 1
            change = TierChange(
                account_id=state.account_id,
                model=compiled.id,
                model_version=compiled.version,
                seq=ms.seq,
                previous_tier=previous_tier,
                tier=tier,
                previous_total=previous_total,
                total=total,
                fit=ms.fit_points * compiled.fit_norm if compiled.profile else None,
                engagement=engagement * compiled.engagement_norm
                if compiled.engagement_norm
                else None,
                cause=cause,
                at=t,
                _explanation=_DeferredExplanation(
                    compiled, compiled.moment(state.profile, ms, t, engagement, tier, keep=True)
                ),
            )
            if changes is None:
                changes = [change]
            else:
                changes.append(change)
        return () if changes is None else tuple(changes)


def _read_time(state: AccountState, at: float | None) -> float:
    return state.clock if at is None else max(state.clock, at)


def _trim_contacts(bs: BehaviorState, keep: int, oldest: float) -> None:
    """Keep the `keep` most recent contacts whose time is after `oldest` (ties by hash, so the
    result does not depend on arrival order)."""
    recent = sorted(((at, key) for key, at in bs.contacts.items() if at > oldest), reverse=True)[
        :keep
    ]
    bs.contacts = {key: at for at, key in recent}
