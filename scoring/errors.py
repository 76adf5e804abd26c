"""The one exception family of the scoring domain."""

from __future__ import annotations

from dataclasses import dataclass


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
    """One or more model files break the rules of SCORING.md section 2; nothing was loaded."""

    def __init__(self, problems: list[ModelProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))
