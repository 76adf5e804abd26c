"""Per-account scoring state and its compact binary codec.

The state holds only what the numbers of SCORING.md section 3 need, in a form that is cheap to
update per event and small to store (the pipeline keeps one blob per account and model in Redis,
plus one meta blob per account). docs/state.md explains every field and why it is exact.

The classes are plain mutable objects with `__slots__`: `scoring.engine.Engine` mutates them in
place on the per-event path, where dataclass machinery would cost time. Nothing here knows a
`Model`; matching a state to a model (fingerprints, versions) is the engine's job.

Codec format (all little-endian, `struct`): a leading format byte lets a later release read old
blobs. Floats are stored as IEEE doubles, so a round trip is exact.
"""

from __future__ import annotations

import struct

from scoring.errors import ScoringError
from scoring.messages import Profile

CODEC_FORMAT = 1
"""First byte of every blob written by this module."""

MAX_STREAK = 0xFFFF
"""A signal's streak count saturates here (it is stored in two bytes; only explanations read it)."""


class StateDecodeError(ScoringError):
    """A blob this module did not write (unknown format byte, truncated, trailing bytes)."""


class BehaviorState:
    """What one behavioral criterion of one model remembers about one account.

    Signal `k` of the criterion (in model order) owns index `k` of every per-signal list.

    - `sums[k]`: decayed hit weight `D_k = sum over earning hits j of 2^((t_j - ref) / half_life)`;
      the criterion's decayed sum at `t` is `sum_k points_k * D_k * 2^(-(t - ref) / half_life)`.
      Points are applied at read time, so a model version that only changes points keeps history.
    - `ref`: the reference time of `sums` (moved forward only when exponents grow large).
    - `last_hit[k]`, `streak[k]`: time of the latest earning hit and the number of earning hits
      since the signal was last quiet for more than one half-life (0 = never hit); explanations
      only read them.
    - `cap_day`, `cap_today[k]`, `cap_yesterday[k]`: earning hits per signal on UTC day `cap_day`
      and the day before (daily caps); older days are forgotten.
    - `contacts`: 8-byte hash of a contact id -> time of its latest positive-points hit (only for
      criteria that a breadth criterion counts; bounded by the engine).
    - `fingerprint`: 32-bit digest of the criterion's definition that the sums depend on; a new
      model version keeps this state only when the fingerprint is unchanged.
    - `weighted`: `sum_k points_k * D_k` under the loaded model's points, a cache the engine
      refreshes after every hit and on restore/rescore (not stored: points come from the model).
    """

    __slots__ = (
        "cap_day",
        "cap_today",
        "cap_yesterday",
        "contacts",
        "fingerprint",
        "last_hit",
        "ref",
        "streak",
        "sums",
        "weighted",
    )

    def __init__(self, fingerprint: int, signals: int) -> None:
        self.fingerprint = fingerprint
        self.ref = 0.0
        self.sums = [0.0] * signals
        self.last_hit = [0.0] * signals
        self.streak = [0] * signals
        self.cap_day = 0
        self.cap_today = [0] * signals
        self.cap_yesterday = [0] * signals
        self.contacts: dict[bytes, float] = {}
        self.weighted = 0.0

    def roll_caps(self, day: int) -> None:
        """Move the daily-cap counters to UTC day `day`, the day of the (new) account clock.

        Only the day after `cap_day` keeps a counter (today's becomes yesterday's): any other
        jump leaves both days at zero.
        """
        if day == self.cap_day:
            return
        signals = len(self.sums)
        if day == self.cap_day + 1:
            self.cap_yesterday = self.cap_today
        else:
            self.cap_yesterday = [0] * signals
        self.cap_today = [0] * signals
        self.cap_day = day


class ModelState:
    """One account under one model: its tier, change counter and behavioral memory.

    `behaviors` is aligned with the model's behavioral criteria in model order. `fit_scores`
    (score per profile criterion, in model order) and `fit_points` (sum of weight * score over
    them) are caches the engine fills from the profile; they are not stored, because the
    profile is stored separately.
    """

    __slots__ = ("behaviors", "fit_points", "fit_scores", "last_total", "seq", "tier", "version")

    def __init__(
        self,
        version: int,
        tier: str,
        behaviors: list[BehaviorState],
        *,
        seq: int = 0,
        last_total: float = 0.0,
    ) -> None:
        self.version = version  # model version the state was computed with
        self.tier = tier  # current tier name
        self.seq = seq  # number of tier changes emitted so far
        self.last_total = last_total  # total of the latest evaluation (previous_total of a change)
        self.behaviors = behaviors
        self.fit_scores: tuple[float, ...] = ()
        self.fit_points = 0.0


class AccountState:
    """Everything the engine keeps about one account.

    `clock` is the account clock of SCORING.md section 3 (never moves back; 0.0 before any input).
    `dedupe` maps the 8-byte blake2b digest of an applied event id to that event's time.
    `models` maps model id to its state. `dedupe_limit` is a pruning threshold, not persisted.
    """

    __slots__ = ("account_id", "clock", "dedupe", "dedupe_limit", "models", "profile")

    def __init__(self, account_id: str, *, clock: float = 0.0) -> None:
        self.account_id = account_id
        self.clock = clock
        self.profile: Profile | None = None
        self.dedupe: dict[bytes, float] = {}
        self.dedupe_limit = 0
        self.models: dict[str, ModelState] = {}


# --- codec -----------------------------------------------------------------------------------

_MODEL_HEAD = struct.Struct("<BIIdB")  # format, version, seq, last_total, len(tier)
_BEHAVIOR_HEAD = struct.Struct(
    "<IBdiBBB"
)  # fingerprint, signals, ref, cap_day, #hits, #caps, #contacts
_HIT = struct.Struct("<BddH")  # signal index, D, last hit, streak
_CAP = struct.Struct("<BII")  # signal index, today, yesterday
_CONTACT = struct.Struct("<8sd")  # contact hash, time
_META_HEAD = struct.Struct("<Bd")  # format, clock
_DEDUPE = struct.Struct("<8sd")  # event-id hash, event time


def encode_model_state(ms: ModelState) -> bytes:
    """Serialise `ms` (not `fit_points`): only signals ever hit and non-zero counters are written.

    Raises `ScoringError` when a criterion has more than 255 signals, or a model more than 255
    behavioral criteria (the engine refuses such models, so this cannot happen through it).
    """
    tier = ms.tier.encode()
    if len(tier) > 255 or len(ms.behaviors) > 255:
        raise ScoringError("tier name over 255 bytes or more than 255 behavioral criteria")
    parts = [_MODEL_HEAD.pack(CODEC_FORMAT, ms.version, ms.seq, ms.last_total, len(tier)), tier]
    parts.append(bytes((len(ms.behaviors),)))
    for bs in ms.behaviors:
        signals = len(bs.sums)
        if signals > 255:
            raise ScoringError("more than 255 signals in one criterion")
        hits = [k for k in range(signals) if bs.sums[k] != 0.0 or bs.streak[k]]
        caps = [k for k in range(signals) if bs.cap_today[k] or bs.cap_yesterday[k]]
        parts.append(
            _BEHAVIOR_HEAD.pack(
                bs.fingerprint, signals, bs.ref, bs.cap_day, len(hits), len(caps), len(bs.contacts)
            )
        )
        parts.extend(_HIT.pack(k, bs.sums[k], bs.last_hit[k], bs.streak[k]) for k in hits)
        parts.extend(_CAP.pack(k, bs.cap_today[k], bs.cap_yesterday[k]) for k in caps)
        parts.extend(_CONTACT.pack(key, at) for key, at in bs.contacts.items())
    return b"".join(parts)


def decode_model_state(blob: bytes) -> ModelState:
    """Inverse of `encode_model_state` (`fit_points` is 0.0 until the engine attaches a profile).

    Raises `StateDecodeError` on a blob this module did not write.
    """
    try:
        fmt, version, seq, last_total, tier_len = _MODEL_HEAD.unpack_from(blob, 0)
        if fmt != CODEC_FORMAT:
            raise StateDecodeError(f"unknown model-state format {fmt}")
        pos = _MODEL_HEAD.size
        tier = blob[pos : pos + tier_len].decode()
        pos += tier_len
        count = blob[pos]
        pos += 1
        behaviors = []
        for _ in range(count):
            fingerprint, signals, ref, cap_day, hits, caps, contacts = _BEHAVIOR_HEAD.unpack_from(
                blob, pos
            )
            pos += _BEHAVIOR_HEAD.size
            bs = BehaviorState(fingerprint, signals)
            bs.ref = ref
            bs.cap_day = cap_day
            for _ in range(hits):
                k, bs.sums[k], bs.last_hit[k], bs.streak[k] = _HIT.unpack_from(blob, pos)
                pos += _HIT.size
            for _ in range(caps):
                k, bs.cap_today[k], bs.cap_yesterday[k] = _CAP.unpack_from(blob, pos)
                pos += _CAP.size
            for _ in range(contacts):
                key, at = _CONTACT.unpack_from(blob, pos)
                bs.contacts[key] = at
                pos += _CONTACT.size
            behaviors.append(bs)
    except (struct.error, IndexError, UnicodeDecodeError) as err:
        raise StateDecodeError(f"corrupt model state: {err}") from err
    if pos != len(blob):
        raise StateDecodeError("corrupt model state: trailing bytes")
    return ModelState(version, tier, behaviors, seq=seq, last_total=last_total)


def encode_account_meta(state: AccountState) -> bytes:
    """Serialise the account clock and dedupe map (prune the map first: `Engine.dump` does)."""
    parts = [_META_HEAD.pack(CODEC_FORMAT, state.clock)]
    parts.extend(_DEDUPE.pack(key, at) for key, at in state.dedupe.items())
    return b"".join(parts)


def decode_account_meta(account_id: str, blob: bytes) -> AccountState:
    """Inverse of `encode_account_meta`: an `AccountState` with clock and dedupe, no models yet.

    Raises `StateDecodeError` on a blob this module did not write.
    """
    try:
        fmt, clock = _META_HEAD.unpack_from(blob, 0)
    except struct.error as err:
        raise StateDecodeError(f"corrupt account meta: {err}") from err
    if fmt != CODEC_FORMAT:
        raise StateDecodeError(f"unknown account-meta format {fmt}")
    body = len(blob) - _META_HEAD.size
    if body % _DEDUPE.size:
        raise StateDecodeError("corrupt account meta: truncated dedupe entry")
    state = AccountState(account_id, clock=clock)
    state.dedupe = dict(_DEDUPE.iter_unpack(blob[_META_HEAD.size :]))
    return state
