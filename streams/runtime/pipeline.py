"""The live pipeline's work, as plain functions around the engine and the state store.

The faust agents (`streams.runtime.worker`) only hand batches of raw Kafka messages to
`Pipeline` and publish what it leaves in the outbox. One batch of one partition goes like this:

1. messages at or below the partition's applied offset (from Redis) are dropped: they were
   applied before a crash or a rebalance, whatever offset Kafka had committed;
2. each message is decoded (`scoring.decode`); a bad one becomes a dead letter;
3. an event whose key is not its account (keyed by domain, or keyed wrong) is resolved through
   the domain map and re-published keyed by its account, so that every account is owned by one
   partition; an unknown domain becomes a dead letter (`unknown_account`);
4. the batch's accounts are read from Redis in one round trip, the engine applies the events in
   order, and ONE fenced Lua call writes the states, the applied offset, the outbox (score
   changes, dead letters, re-published events) and the decay schedule;
5. the outbox is published to Kafka and trimmed once the broker has acknowledged it.

While one fence token holds a partition, only this worker's commits change its applied offsets
and outbox, so the pipeline remembers both (per partition and token) instead of reading them
back every batch: the common batch is one Lua call, one publish and one trim. Anything that
leaves the memory unsure (an error mid-call, a fenced call) forgets it; the next batch reads
Redis again. A new token (the partition lost and got back) never matches what was remembered.

A crash between 4 and 5 publishes the outbox again after restart: score changes are delivered at
least once, always with the same `(account_id, model, seq)`.

No message stops a partition: decoding and routing are total (bad input is a dead letter with
its code), and a batch that raises anything but an outage (`streams.runtime.retry.OUTAGES`) is
done again one message at a time, a message that still raises becoming a dead letter
`internal_error` committed with its offset (`_isolated`). That keeps effectively once: a batch
that raised either committed nothing (its states were taken out of the cache and are read again
from Redis) or committed whole, and then its messages are at or below the applied offset.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from scoring.decode import Rejection, decode_event, decode_profile
from scoring.engine import Engine, TierChange, too_late_detail
from scoring.errors import DeadLetterCode
from scoring.messages import Event, Profile
from scoring.state import AccountState
from streams.runtime.accounts import Accounts
from streams.runtime.messages import (
    INGESTED_HEADER,
    MAX_MESSAGE_BYTES,
    Destination,
    Incoming,
    Outgoing,
    dead_letter,
    fits,
    is_alert,
    reroute,
    score_change_message,
)
from streams.runtime.metrics import Metrics
from streams.runtime.publishing import Publisher
from streams.runtime.retry import OUTAGES
from streams.runtime.state_cache import StateCache
from streams.store.commit import AccountWrite, Committed, Fenced, Rank
from streams.store.state_store import StateStore

log = logging.getLogger("scorer.worker")

# A message keyed wrong that cannot be re-published keyed by its account: with its headers, it
# would exceed what the producer sends.
_TOO_LARGE_TO_REPUBLISH = f"$: with its headers, over the {MAX_MESSAGE_BYTES} bytes Kafka takes"

BatchWork = Callable[[int, str, Sequence[Incoming], float], Awaitable["BatchReport"]]


@dataclass(slots=True)
class BatchReport:
    """What one batch did, for logs, metrics and tests."""

    skipped: int = 0  # already applied before
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    rerouted: int = 0
    changes: list[TierChange] = field(default_factory=list)
    fenced: bool = False
    # account -> its tier under each model when loaded (`Engine.tier_indexes`: a byte per model
    # in load order, 255 unknown): the ranking set that holds the account now.
    loaded_tiers: dict[str, bytes] = field(default_factory=dict)
    # account -> the models its loading rescored (stale ones, and any other whose standing the
    # rescore moved); absent when none.
    rescored: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, other: BatchReport) -> None:
        """Counts `other` (a part of the same batch) into this report."""
        self.skipped += other.skipped
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.rerouted += other.rerouted
        self.changes.extend(other.changes)
        self.fenced = self.fenced or other.fenced
        self.loaded_tiers.update(other.loaded_tiers)
        self.rescored.update(other.rescored)


class Pipeline:
    """Scores batches of one worker's partitions. Not safe for two batches of one partition at
    once: the worker serialises each partition's work (`streams.runtime.ownership`)."""

    def __init__(
        self,
        engine: Engine,
        store: StateStore,
        publisher: Publisher,
        metrics: Metrics,
        *,
        max_future_skew: float,
        cache: StateCache | None = None,
    ) -> None:
        self.engine = engine
        self.cache = StateCache(0) if cache is None else cache
        self.store = store
        self.publisher = publisher
        self.metrics = metrics
        self.max_future_skew = max_future_skew
        self.accounts = Accounts(engine, store, metrics)
        self.models = self.accounts.models
        # (partition, source) -> (token, applied offset) as committed under that token.
        self._applied: dict[tuple[int, str], tuple[str, int]] = {}
        # partition -> (token, the entries of its outbox in Redis, oldest first).
        self._outbox: dict[int, tuple[str, list[Outgoing]]] = {}

    def release(self, partition: int) -> None:
        """Forgets what is cached or remembered of a partition this worker no longer owns."""
        self.cache.drop_partition(partition)
        self._outbox.pop(partition, None)
        for key in [key for key in self._applied if key[0] == partition]:
            del self._applied[key]

    # --- reading and writing accounts (`Accounts`) --------------------------------------------

    async def load(self, partition: int, account_ids: Sequence[str]) -> dict[str, AccountState]:
        """The accounts' states from Redis (one round trip); unknown accounts start empty."""
        return await self.accounts.load(partition, account_ids)

    def dump(self, state: AccountState, profile_raw: bytes | None = None) -> AccountWrite:
        """The account's fields to write (`Accounts.dump`)."""
        return self.accounts.dump(state, profile_raw)

    def rank(self, state: AccountState, model_id: str, previous_tier: str | None) -> Rank:
        """The account's place in the model's ranking (`Accounts.rank`)."""
        return self.accounts.rank(state, model_id, previous_tier)

    def due_time(self, state: AccountState) -> float | None:
        """When the decay sweep must next look at the account (`Accounts.due_time`)."""
        return self.accounts.due_time(state)

    # --- batches -------------------------------------------------------------------------------

    async def events_batch(
        self, partition: int, token: str, messages: Sequence[Incoming], now: float
    ) -> BatchReport:
        """Applies one batch of the events topic's `partition` (messages in offset order); a
        message whose handling raises is a dead letter `internal_error` (`_isolated`)."""
        return await self._isolated(self._events_batch, "events", partition, token, messages, now)

    async def profiles_batch(
        self, partition: int, token: str, messages: Sequence[Incoming], now: float
    ) -> BatchReport:
        """Applies one batch of the profiles topic's `partition`: each replaces the account's
        profile and re-evaluates it (cause `profile`); a message whose handling raises is a dead
        letter `internal_error` (`_isolated`)."""
        return await self._isolated(
            self._profiles_batch, "profiles", partition, token, messages, now
        )

    async def _events_batch(
        self, partition: int, token: str, messages: Sequence[Incoming], now: float
    ) -> BatchReport:
        report = BatchReport()
        fresh = await self._fresh(partition, token, "events", messages, report)
        if not fresh:
            return report
        outbox: list[Outgoing] = []
        ordered: list[tuple[Incoming, Event]] = []
        for message in fresh:
            decoded = decode_event(message.value, now=now, max_future_skew=self.max_future_skew)
            if isinstance(decoded, Rejection):
                outbox.append(dead_letter(message, decoded.code, decoded.detail, now))
                continue
            ordered.append((message, decoded))
        # Counted per type and batch: a labelled child per event costs more than the event.
        for event_type, count in Counter(e.type for _, e in ordered).items():
            self.metrics.events_consumed.labels(event_type).inc(count)
        owned = await self._route(ordered, outbox, now)
        states = await self._load_current(
            partition, token, list(dict.fromkeys(e.account_id or "" for _, e in owned)), report
        )
        applied: Counter[str] = Counter()
        duplicates: Counter[str] = Counter()
        too_late: Counter[str] = Counter()
        kept: list[Event] = []  # all but the refused: their state is committed
        for message, event in owned:
            state = states[event.account_id or ""]
            outcome = self.engine.apply_event(state, event)
            if outcome.duplicate:
                duplicates[event.type] += 1
                kept.append(event)
                continue
            if outcome.too_late_by is not None:
                too_late[event.type] += 1
                detail = too_late_detail(
                    state.clock, outcome.too_late_by, self.engine.allowed_lateness
                )
                outbox.append(dead_letter(message, DeadLetterCode.TOO_LATE, detail, now))
                continue
            kept.append(event)
            applied[event.type] += 1
            report.changes.extend(outcome.changes)
        report.applied = applied.total()
        report.duplicates = duplicates.total()
        for event_type, count in applied.items():
            self.metrics.events_applied.labels(event_type).inc(count)
        for event_type, count in duplicates.items():
            self.metrics.events_deduplicated.labels(event_type).inc(count)
        for event_type, count in too_late.items():
            self.metrics.events_too_late.labels(event_type).inc(count)
        await self._commit(
            partition,
            token,
            "events",
            fresh[-1].offset,
            states,
            {},
            outbox,
            report,
            now,
            ingested=min(m.timestamp for m in fresh),
        )
        if not report.fenced:
            for event in kept:
                self.metrics.event_to_applied_seconds.observe(max(now - event.occurred_at, 0.0))
        return report

    async def _profiles_batch(
        self, partition: int, token: str, messages: Sequence[Incoming], now: float
    ) -> BatchReport:
        report = BatchReport()
        fresh = await self._fresh(partition, token, "profiles", messages, report)
        if not fresh:
            return report
        outbox: list[Outgoing] = []
        profiles: list[tuple[bytes, Profile]] = []
        for message in fresh:
            decoded = decode_profile(message.value)
            if isinstance(decoded, Rejection):
                outbox.append(dead_letter(message, decoded.code, decoded.detail, now))
            elif message.key != decoded.account_id.encode():
                # Keyed wrong: send it to the partition that owns the account.
                rerouted = Outgoing(
                    Destination.PROFILES,
                    decoded.account_id.encode(),
                    message.value,
                    message.headers,
                )
                if fits(rerouted):
                    report.rerouted += 1
                    outbox.append(rerouted)
                else:
                    outbox.append(
                        dead_letter(message, DeadLetterCode.TOO_LARGE, _TOO_LARGE_TO_REPUBLISH, now)
                    )
            else:
                assert message.value is not None, "a decoded profile has a value"
                profiles.append((message.value, decoded))
        states = await self._load_current(
            partition, token, list(dict.fromkeys(p.account_id for _, p in profiles)), report
        )
        raw_profiles: dict[str, bytes] = {}
        domains: dict[str, str] = {}
        for raw, profile in profiles:
            named = profile.fields.get("domains")
            if isinstance(named, list):
                domains.update((d.lower(), profile.account_id) for d in named if isinstance(d, str))
            report.changes.extend(self.engine.apply_profile(states[profile.account_id], profile))
            raw_profiles[profile.account_id] = raw
            report.applied += 1
            self.metrics.profiles_applied.inc()
        await self.store.remember_domains(domains)
        await self._commit(
            partition,
            token,
            "profiles",
            fresh[-1].offset,
            states,
            raw_profiles,
            outbox,
            report,
            now,
            ingested=min(m.timestamp for m in fresh),
        )
        return report

    async def sweep(self, partition: int, token: str, now: float) -> BatchReport:
        """The decay sweep of one partition: evaluates the accounts whose tier drop is due."""
        report = BatchReport()
        # In a fixed order, whichever bucket the store read first: the same due accounts give
        # the same messages in the same order.
        due = sorted(await self.store.due_accounts(partition, now))
        if not due:
            return report
        states = await self._take(partition, token, due)
        for state in states.values():
            report.changes.extend(self.engine.evaluate(state, now, "decay"))
        await self._commit(partition, token, "events", None, states, {}, [], report, now)
        return report

    async def rescore(
        self, partition: int, token: str, account_ids: Sequence[str], now: float
    ) -> BatchReport:
        """Brings the accounts to the loaded model versions (cause `rescore`). Writes only what
        changed: the rescored models' states, ranks and each account's due time; an account
        already at the loaded versions is not written at all."""
        report = BatchReport()
        states = await self._load_current(partition, token, account_ids, report)
        await self._commit(
            partition, token, "events", None, states, {}, [], report, now, only=report.rescored
        )
        return report

    async def publish_outbox(self, partition: int, token: str, batch: int = 1000) -> int:
        """Publishes the partition's outbox, oldest first; returns how many were acknowledged.

        The entries come from memory when the pipeline knows the outbox (it read it empty under
        `token` and committed every entry since), else from Redis."""
        published = 0
        while True:
            known = self._outbox.get(partition)
            if known is not None and known[0] == token:
                messages = known[1][:batch]
            else:
                entries = await self.store.outbox(partition, batch)
                messages = [Outgoing.decode(entry) for entry in entries]
            self.metrics.outbox_backlog.labels(str(partition)).set(len(messages))
            if not messages:
                self._outbox[partition] = (token, [])
                return published
            started = time.perf_counter()
            await self.publisher.publish(messages)
            self.metrics.publish_seconds.observe(time.perf_counter() - started)
            acknowledged = time.time()
            for message in messages:
                ingested = dict(message.headers).get(INGESTED_HEADER)
                if message.destination is Destination.SCORE_CHANGES and ingested is not None:
                    self.metrics.ingest_to_published_seconds.observe(
                        max(acknowledged - float(ingested), 0.0)
                    )
            known = self._outbox.pop(partition, None)  # unsure until the trim has answered
            if not await self.store.clear_outbox(partition, token, len(messages)):
                return published  # fenced: the new owner publishes the rest
            if known is not None and known[0] == token:
                del known[1][: len(messages)]
                self._outbox[partition] = known
            published += len(messages)

    # --- helpers -------------------------------------------------------------------------------

    async def _isolated(
        self,
        work: BatchWork,
        source: str,
        partition: int,
        token: str,
        messages: Sequence[Incoming],
        now: float,
    ) -> BatchReport:
        """`work` on the batch, or, when it raises anything but an outage, on each message
        alone: a message that still raises is committed as a dead letter `internal_error` whose
        detail names the exception's type (the log has the traceback). An outage propagates
        (retried by the caller), and so does an error committing that dead letter: then Redis
        itself refuses, and the worker stops."""
        try:
            return await work(partition, token, messages, now)
        except OUTAGES:
            raise
        except Exception as err:
            if len(messages) == 1:
                return await self._internal_error(partition, token, source, messages[0], err, now)
        report = BatchReport()
        for message in messages:
            report.add(await self._isolated(work, source, partition, token, [message], now))
            if report.fenced:
                break
        return report

    async def _internal_error(
        self,
        partition: int,
        token: str,
        source: str,
        message: Incoming,
        err: Exception,
        now: float,
    ) -> BatchReport:
        """Commits `message` as a dead letter `internal_error`, unless it was applied already."""
        report = BatchReport()
        if message.offset <= await self._applied_offset(partition, token, source):
            report.skipped = 1
            return report
        log.error(
            "%s[%d]@%d raised while handled: a dead letter internal_error",
            message.topic,
            partition,
            message.offset,
            exc_info=err,
        )
        detail = f"$: {type(err).__name__} while handling the message"
        outbox = [dead_letter(message, DeadLetterCode.INTERNAL_ERROR, detail, now)]
        await self._commit(partition, token, source, message.offset, {}, {}, outbox, report, now)
        return report

    async def _take(
        self, partition: int, token: str, account_ids: Sequence[str]
    ) -> dict[str, AccountState]:
        """The accounts' states for a batch that will commit under `token`: from the cache
        where it holds them (taken out: `_commit` puts them back once committed), else Redis."""
        cached = self.cache.take(partition, token, account_ids)
        if len(cached) == len(account_ids):
            return cached
        read = await self.load(partition, [a for a in account_ids if a not in cached])
        return {a: cached[a] if a in cached else read[a] for a in account_ids}

    async def _load_current(
        self, partition: int, token: str, account_ids: Sequence[str], report: BatchReport
    ) -> dict[str, AccountState]:
        """Takes accounts and first rescores those written under another model version, so
        new input always meets the loaded models (the background rescoring may not be there
        yet)."""
        states = await self._take(partition, token, account_ids)
        tiers = self.engine.tier_indexes(list(states.values()))
        report.loaded_tiers.update(zip(states, tiers, strict=True))
        for state in states.values():
            if not self.engine.needs_rescore(state):  # a bool: cheaper than the list of models
                continue
            stale = self.engine.stale_models(state)
            others = {m: self.engine.standing(state, m) for m in self.models if m not in stale}
            report.changes.extend(self.engine.rescore(state))
            # A current model comes out as it went in (same definition, profile and clock),
            # unless a model file changed without a new version: then it is written too, so
            # that Redis never misses a change that was published.
            moved = {m for m, was in others.items() if self.engine.standing(state, m) != was}
            report.rescored[state.account_id] = tuple(
                m for m in self.models if m in stale or m in moved
            )
        return states

    async def _fresh(
        self,
        partition: int,
        token: str,
        source: str,
        messages: Sequence[Incoming],
        report: BatchReport,
    ) -> list[Incoming]:
        applied = await self._applied_offset(partition, token, source)
        fresh = [m for m in messages if m.offset > applied]
        report.skipped = len(messages) - len(fresh)
        self.metrics.batch_size.observe(len(messages))
        return fresh

    async def _applied_offset(self, partition: int, token: str, source: str) -> int:
        """The partition's applied offset of `source`: remembered under `token`, else Redis's."""
        known = self._applied.get((partition, source))
        if known is not None and known[0] == token:
            return known[1]
        applied = await self.store.applied_offset(partition, source)
        self._applied[(partition, source)] = (token, applied)
        return applied

    async def _route(
        self, ordered: Sequence[tuple[Incoming, Event]], outbox: list[Outgoing], now: float
    ) -> list[tuple[Incoming, Event]]:
        """The events this partition owns, with their messages; re-publishes the others keyed
        by their account."""
        domains = sorted({e.domain for _, e in ordered if e.account_id is None and e.domain})
        resolved = await self.store.resolve_domains(domains)
        owned: list[tuple[Incoming, Event]] = []
        for message, event in ordered:
            account_id = event.account_id or resolved.get(event.domain or "")
            if account_id is None:
                detail = f"domain {event.domain!r} is named by no account profile"
                outbox.append(dead_letter(message, DeadLetterCode.UNKNOWN_ACCOUNT, detail, now))
            elif message.key != account_id.encode() or event.account_id is None:
                rerouted = reroute(message, account_id)
                if fits(rerouted):
                    outbox.append(rerouted)
                else:  # its headers make it so
                    outbox.append(
                        dead_letter(message, DeadLetterCode.TOO_LARGE, _TOO_LARGE_TO_REPUBLISH, now)
                    )
            else:
                owned.append((message, event))
        return owned

    async def _commit(
        self,
        partition: int,
        token: str,
        source: str,
        offset: int | None,
        states: Mapping[str, AccountState],
        raw_profiles: Mapping[str, bytes],
        outbox: list[Outgoing],
        report: BatchReport,
        now: float,
        ingested: float | None = None,
        only: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Writes the batch in one fenced call and, once it is in Redis, keeps its states in
        the cache. `only` (account -> models) writes just those accounts, and of each only those
        models' states and ranks and its due time; None writes every account whole."""
        # When the batch's first message reached Kafka: published score changes carry it, so
        # the ingest-to-published latency can be measured (here and by any consumer).
        headers = () if ingested is None else ((INGESTED_HEADER, repr(ingested).encode()),)
        for change in report.changes:
            alert = is_alert(self.models[change.model], change)
            profile = states[change.account_id].profile
            outbox.append(
                Outgoing(
                    Destination.SCORE_CHANGES,
                    change.account_id.encode(),
                    score_change_message(change, alert, profile, now),
                    headers,
                )
            )
        if raw_profiles:
            assert only is None, "a profile is written with the whole account"
            batch = self.accounts.packed_with_profiles(states, raw_profiles, report.loaded_tiers)
        else:
            batch = self.accounts.packed(states, report.loaded_tiers, only)
        # Unsure until Redis has answered: an error mid-call may or may not have written.
        if offset is not None:
            self._applied.pop((partition, source), None)
        known_outbox = self._outbox.pop(partition, None)
        started = time.perf_counter()
        result = await self.store.commit_batch(
            partition, token, source, offset, batch, [o.encode() for o in outbox]
        )
        self.metrics.redis_seconds.labels("commit").observe(time.perf_counter() - started)
        if isinstance(result, Fenced):
            report.fenced = True
            report.changes.clear()
            self.metrics.fenced_batches.inc()
            return
        if known_outbox is not None and known_outbox[0] == token:
            if isinstance(result, Committed):
                known_outbox[1].extend(outbox)
            self._outbox[partition] = known_outbox  # AlreadyApplied wrote nothing
        if isinstance(result, Committed):
            if offset is not None:
                self._applied[(partition, source)] = (token, offset)
            self.cache.keep(partition, token, states)
            for message in outbox:
                if message.destination is Destination.DEAD_LETTERS:
                    report.dead_letters += 1
                    code = (dict(message.headers)["scorer.error.code"] or b"").decode()
                    self.metrics.dead_letters.labels(code).inc()
                elif message.destination is Destination.EVENTS:
                    report.rerouted += 1
            for change in report.changes:
                self.metrics.tier_changes.labels(
                    change.model, change.previous_tier, change.tier, change.cause
                ).inc()
