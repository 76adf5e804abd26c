"""Per-account scoring state and its compact binary codec.

The state holds only what the numbers of docs/scoring.md section 3 need, in a form that is cheap to
update per event and small to store (the pipeline keeps one blob per account and model in Redis,
plus one meta blob per account). docs/state.md explains every field, why it is exact, and the
byte layout of the codec.

`AccountState` is the native core's (`scoring._core`, Rust, `scoring/native/`): an opaque object
that only `scoring.engine.Engine` creates, mutates, dumps and restores. Python reads its
`account_id`, `clock` and `profile`, the tier per model (`tiers()`), and a plain copy of
everything (`view()`, for tests and debugging).
"""

from __future__ import annotations

from scoring._core import CODEC_FORMAT, MAX_STREAK, AccountState
from scoring.errors import ScoringError

__all__ = ["CODEC_FORMAT", "MAX_STREAK", "AccountState", "StateDecodeError"]


class StateDecodeError(ScoringError):
    """Stored state this version cannot read: a blob the codec did not write (unknown format
    byte, truncated, trailing bytes) or a stored profile that is none."""
