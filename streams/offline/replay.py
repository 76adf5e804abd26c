"""`scorer replay`: the scoring core over files, with the same decoding and engine as the stream.

Profiles (JSON lines) are applied first, in file order, then events (JSON lines) in file order.
A bad line is reported on stderr with its file, line number and reason, counted, and skipped.
An event that names only a `domain` is resolved through the domains of the profiles applied so
far; an unknown domain is a bad line (`unknown_account`), exactly as the live pipeline sends it
to the dead-letter topic. An event that lies more than the allowed lateness before its
account's clock is refused as the live pipeline refuses it (`too_late`): reported the same way
and counted apart. With a rejects file, every refused line is also written there as a JSON line
(`rejected_line`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

import orjson

from scoring.decode import Rejection, decode_event, decode_profile
from scoring.engine import Engine, EventOutcome, TierChange, too_late_detail
from scoring.errors import DeadLetterCode
from scoring.messages import Event, Profile
from scoring.model import Model
from scoring.state import AccountState
from scoring.timefmt import format_rfc3339
from streams.progress import Progress
from streams.runtime.processes import FEW_COLLECTIONS

JSONL = orjson.OPT_APPEND_NEWLINE


@dataclass(slots=True)
class ReplaySummary:
    """What a replay read and wrote; `line()` is its closing summary."""

    profiles: int = 0
    events: int = 0
    duplicates: int = 0
    too_late: int = 0
    bad_lines: int = 0
    accounts: int = 0
    changes: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return (
            f"replay: {self.profiles:,} profiles, {self.events:,} events "
            f"({self.duplicates:,} duplicates ignored, {self.too_late:,} too late refused), "
            f"{self.bad_lines:,} bad lines, "
            f"{self.accounts:,} accounts, {self.changes:,} tier changes in {self.seconds:.2f}s "
            f"({rate:,.0f} events/s)"
        )


def change_line(change: TierChange) -> dict[str, object]:
    """One tier change as a JSON-ready line (`replay --changes`, `scorer changes`)."""
    return {
        "account_id": change.account_id,
        "model": change.model,
        "seq": change.seq,
        "previous_tier": change.previous_tier,
        "tier": change.tier,
        "total": change.total,
        "cause": change.cause,
        "at": format_rfc3339(change.at),
    }


def rejected_line(path: Path, number: int, code: DeadLetterCode, detail: str) -> dict[str, object]:
    """One refused input line as a JSON-ready line (`replay --rejects`)."""
    return {"file": str(path), "line": number, "code": code.value, "detail": detail}


def read_lines(path: Path, label: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line, with a progress bar on a terminal."""
    done = 0
    number = 0
    with Progress(label, path.stat().st_size) as progress, path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):  # noqa: B007  (number is reported after)
            done += len(line)
            if line.strip():
                yield number, line
            progress.update(done, number)
        progress.close(number)


class Replay:
    """Applies profiles and events to in-memory account states with one `Engine`."""

    def __init__(
        self,
        models: tuple[Model, ...],
        on_change: Callable[[TierChange], None],
        errors: TextIO,
        *,
        dedupe_window: float,
        allowed_lateness: float,
        rejects: IO[bytes] | None = None,
    ) -> None:
        self.engine = Engine(models, dedupe_window=dedupe_window, allowed_lateness=allowed_lateness)
        self.states: dict[str, AccountState] = {}
        self.domains: dict[str, str] = {}
        self.on_change = on_change
        self.errors = errors
        self.rejects = rejects
        self.summary = ReplaySummary()

    def state(self, account_id: str) -> AccountState:
        state = self.states.get(account_id)
        if state is None:
            state = self.states[account_id] = self.engine.new_account(account_id)
        return state

    def bad_line(self, path: Path, number: int, code: DeadLetterCode, detail: str) -> None:
        self.summary.bad_lines += 1
        self.refused(path, number, code, detail)

    def refused(self, path: Path, number: int, code: DeadLetterCode, detail: str) -> None:
        """Reports a line that changed nothing: on stderr, and in the rejects file if any."""
        self.errors.write(f"{path}:{number}: {code}: {detail}\n")
        if self.rejects is not None:
            self.rejects.write(
                orjson.dumps(rejected_line(path, number, code, detail), option=JSONL)
            )

    def apply_profiles(self, path: Path) -> None:
        for number, line in read_lines(path, "profiles"):
            decoded = decode_profile(line)
            if isinstance(decoded, Rejection):
                self.bad_line(path, number, decoded.code, decoded.detail)
                continue
            self.apply_profile(decoded)

    def apply_profile(self, profile: Profile) -> None:
        self.summary.profiles += 1
        domains = profile.fields.get("domains")
        if isinstance(domains, list):
            for domain in domains:
                if isinstance(domain, str):
                    self.domains[domain.lower()] = profile.account_id
        for change in self.engine.apply_profile(self.state(profile.account_id), profile):
            self.emit(change)

    def apply_events(self, path: Path) -> None:
        for number, line in read_lines(path, "events"):
            decoded = decode_event(line)
            if isinstance(decoded, Rejection):
                self.bad_line(path, number, decoded.code, decoded.detail)
                continue
            account_id = decoded.account_id or self.domains.get(decoded.domain or "")
            if account_id is None:
                self.bad_line(
                    path,
                    number,
                    DeadLetterCode.UNKNOWN_ACCOUNT,
                    f"domain {decoded.domain!r} is in no profile",
                )
                continue
            outcome = self.apply_event(decoded, account_id)
            if outcome.too_late_by is not None:
                clock = self.states[account_id].clock
                detail = too_late_detail(clock, outcome.too_late_by, self.engine.allowed_lateness)
                self.refused(path, number, DeadLetterCode.TOO_LATE, detail)

    def apply_event(self, event: Event, account_id: str) -> EventOutcome:
        self.summary.events += 1
        outcome = self.engine.apply_event(self.state(account_id), event_for(event, account_id))
        if outcome.duplicate:
            self.summary.duplicates += 1
        elif outcome.too_late_by is not None:
            self.summary.too_late += 1
        for change in outcome.changes:
            self.emit(change)
        return outcome

    def evaluate_all(self, as_of: float) -> None:
        for state in self.states.values():
            for change in self.engine.evaluate(state, max(as_of, state.clock), "decay"):
                self.emit(change)

    def emit(self, change: TierChange) -> None:
        self.summary.changes += 1
        self.on_change(change)

    def write_scores(self, out: IO[bytes]) -> None:
        """One line per account and model, accounts in id order (`Engine.score_lines`)."""
        score_lines = self.engine.score_lines
        for account_id in sorted(self.states):
            out.write(score_lines(self.states[account_id]))


def event_for(event: Event, account_id: str) -> Event:
    """The event with its account resolved (events keyed by domain carry none)."""
    if event.account_id == account_id:
        return event
    return Event(
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        account_id=account_id,
        domain=event.domain,
        contact_id=event.contact_id,
        properties=event.properties,
    )


@contextmanager
def _few_collections() -> Iterator[None]:
    """`FEW_COLLECTIONS` for the replay (it keeps every account state alive to the end), then
    the previous thresholds."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*FEW_COLLECTIONS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def run_replay(
    models: tuple[Model, ...],
    *,
    events: Path,
    out: Path,
    profiles: Path | None = None,
    as_of: float | None = None,
    changes: Path | None = None,
    rejects: Path | None = None,
    errors: TextIO,
    dedupe_window: float,
    allowed_lateness: float,
) -> ReplaySummary:
    """Replays the files and writes `out` (and `changes`, `rejects`); returns the summary."""
    started = time.monotonic()
    with _few_collections(), ExitStack() as files:
        out_file = files.enter_context(out.open("wb"))
        changes_file = files.enter_context(changes.open("wb")) if changes else None
        rejects_file = files.enter_context(rejects.open("wb")) if rejects else None

        def write_change(change: TierChange) -> None:
            if changes_file is not None:
                changes_file.write(orjson.dumps(change_line(change), option=JSONL))

        replay = Replay(
            models,
            write_change,
            errors,
            dedupe_window=dedupe_window,
            allowed_lateness=allowed_lateness,
            rejects=rejects_file,
        )
        if profiles is not None:
            replay.apply_profiles(profiles)
        replay.apply_events(events)
        if as_of is not None:
            replay.evaluate_all(as_of)
        replay.write_scores(out_file)
    replay.summary.accounts = len(replay.states)
    replay.summary.seconds = time.monotonic() - started
    return replay.summary
