"""The errors of the scoring domain: its one exception family, and the dead-letter codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeadLetterCode(StrEnum):
    """Why a message went to the dead-letter topic: the `scorer.error.code` header
    (schemas/dead-letter.v1.schema.json lists the same values; a test compares them).

    `scoring.decode` refuses with the first four; the pipeline adds `UNKNOWN_ACCOUNT`, for
    what the engine refuses `TOO_LATE`, and `INTERNAL_ERROR`. A member is a `str`, so it goes
    into headers and metric labels as its value.
    """

    INVALID_JSON = "invalid_json"  # not UTF-8 JSON
    SCHEMA_VIOLATION = "schema_violation"  # JSON that breaks the schema, or is no object
    TOO_LARGE = "too_large"  # more bytes than the message's limit (64 KiB for an event)
    FUTURE_TIMESTAMP = "future_timestamp"  # occurred_at more than the skew ahead of the clock
    UNKNOWN_ACCOUNT = "unknown_account"  # keyed by a domain that no profile names
    TOO_LATE = "too_late"  # occurred_at more than the allowed lateness before the account's clock
    INTERNAL_ERROR = "internal_error"  # handling it raised (a bug); the detail names the exception


class ScoringError(Exception):
    """Base of every error raised by `scoring`."""


@dataclass(frozen=True, slots=True)
class ModelProblem:
    """One broken rule in one model file: `models/nb.yaml: criteria[3].bands: min must fall`."""

    file: str
    place: (
        str  # dotted/indexed path inside the file, e.g. "criteria[3].bands[1].min"; "" = whole file
    )
    rule: str  # what is wrong, in words a model author understands

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.place}: {self.rule}" if self.place else f"{self.file}: {self.rule}"
        )


class ModelError(ScoringError):
    """One or more model files break the rules of docs/scoring.md section 2; nothing was loaded."""

    def __init__(self, problems: list[ModelProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))
