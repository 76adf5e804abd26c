"""Types of the native core (`scoring/native/`, Rust); see its docs for each function.

Inputs are `scoring.compile`'s frozen dataclasses (read by attribute); outputs are the frozen
classes below, whose fields are read by name.
"""

from collections.abc import Mapping, Sequence
from typing import Any, final

from scoring.compile import GroupSpec, ModelSpec
from scoring.messages import Event, Profile

CODEC_FORMAT: int
MAX_STREAK: int

@final
class Snapshot:
    """What an explanation of a tier change reads, captured at the change (opaque)."""

@final
class TierChangeParts:
    model: int  # index in load order
    seq: int
    previous_tier: str
    tier: str
    previous_total: float
    total: float
    fit: float | None
    engagement: float | None
    at: float
    snapshot: Snapshot

@final
class EventResult:
    duplicate: bool
    too_late_by: float | None
    changes: tuple[TierChangeParts, ...]

@final
class ScoreParts:
    total: float
    fit: float | None
    engagement: float | None
    tier: str
    criteria: list[tuple[str, float]]  # (criterion id, score), model order

@final
class SignalParts:
    id: str
    points: float
    count: int
    last_hit: float

@final
class CriterionParts:
    id: str
    kind: str
    score: float
    weight: float
    contribution: float
    signals: tuple[SignalParts, ...]
    evidence: tuple[str, ...]

@final
class ExplanationParts:
    at: float
    tier: str
    total: float
    fit: float | None
    engagement: float | None
    summary: str
    criteria: tuple[CriterionParts, ...]  # model order

UNCHANGED: EventResult  # what every event applied without a tier change gives: one object
DUPLICATE: EventResult  # what every duplicate gives: one object

@final
class DumpedState:
    meta: bytes
    blobs: tuple[bytes, ...]  # per loaded model, load order

@final
class DumpedStates:
    """`Core.dump_many`: one entry per state in the order given."""

    metas: tuple[bytes, ...] | None  # per state; None when only some models were asked for
    blobs: tuple[tuple[bytes, ...], ...]  # per state, the chosen models' blobs in that order
    due_times: bytes  # `<d` per state: earliest next_tier_change_time, NaN for none
    tiers: tuple[bytes, ...]  # per chosen model, a byte per state: index in its tiers
    totals: tuple[bytes, ...]  # per chosen model, `<d` per state: latest total

@final
class AccountState:
    @property
    def account_id(self) -> str: ...
    clock: float
    profile: Profile | None
    def __init__(self, account_id: str, *, clock: float = 0.0) -> None: ...
    def tiers(self) -> dict[str, str]: ...
    def view(self) -> dict[str, Any]: ...

@final
class EventDecoder:
    def __init__(self, event: type, no_properties: object) -> None: ...
    def decode(self, raw: bytes) -> Any | None: ...

@final
class Core:
    def __init__(
        self,
        models: Sequence[ModelSpec],
        groups: Mapping[str, Sequence[GroupSpec]],
        dedupe_window: float,
        allowed_lateness: float,
    ) -> None: ...
    def new_account(self, account_id: str) -> AccountState: ...
    def restore(
        self,
        account_id: str,
        meta: bytes | None,
        blobs: Sequence[bytes | None],
        profile: Profile | None,
    ) -> AccountState: ...
    def dump(self, state: AccountState) -> DumpedState: ...
    def dump_many(
        self, states: list[AccountState], models: list[int] | None = None
    ) -> DumpedStates: ...
    def tier_indexes(self, states: list[AccountState]) -> list[bytes]: ...
    def needs_rescore(self, state: AccountState) -> bool: ...
    def stale_models(self, state: AccountState) -> list[str]: ...
    def apply_event(self, state: AccountState, event: Event) -> EventResult: ...
    def apply_profile(
        self, state: AccountState, profile: Profile, updated_at: float
    ) -> tuple[TierChangeParts, ...]: ...
    def evaluate(self, state: AccountState, at: float) -> tuple[TierChangeParts, ...]: ...
    def rescore(self, state: AccountState) -> tuple[TierChangeParts, ...]: ...
    def standing(self, state: AccountState, model: str) -> tuple[str, float]: ...
    def score(self, state: AccountState, model: str, t: float) -> ScoreParts: ...
    def explain(self, state: AccountState, model: str, t: float) -> ExplanationParts: ...
    def explain_snapshot(self, snapshot: Snapshot) -> ExplanationParts: ...
    def score_lines(self, state: AccountState) -> bytes: ...
    def next_tier_change_time(self, state: AccountState, model: str) -> float | None: ...

def hash_id(text: str) -> bytes: ...
def model_state_view(blob: bytes) -> dict[str, Any]: ...
def meta_view(blob: bytes) -> tuple[float, dict[bytes, float]]: ...
def reencode_model_state(blob: bytes) -> bytes: ...
def reencode_meta(blob: bytes) -> bytes: ...
def format_age(seconds: float) -> str: ...
def format_number(value: float) -> str: ...
def signal_evidence(id: str, count: int, last_hit: float, at: float) -> str: ...
def summarize(tier: str, total: float, criteria: list[tuple[float, list[str]]]) -> str: ...
def format_rfc3339(epoch: float) -> str | None: ...
def json_float(value: float) -> str: ...
