"""The batch commit: one fenced, atomic write per batch (docs/redis-layout.md).

The commit writes, atomically: the batch's account records, the partition's applied offset,
the batch's score-change events into the partition's outbox, and the accounts' places in the
decay schedule and the rankings, and only while the caller still holds the partition's fence. A
worker takes the fence when it is assigned the partition (a new token each time,
`streams.store.partitions`), so a worker that lost the partition (rebalance, long pause) can no
longer write: its commit returns `Fenced`.

A batch travels packed (`CommitBatch`), a few strings per batch rather than several arguments
per account: each argument costs the worker ~0.65 µs to pack and Redis one to parse
(docs/benchmarks.md). `commit_arguments` says how, and `lua/commit.lua` reads it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streams.store.base import StoreBase
from streams.store.keys import PartitionKeys
from streams.store.records import pack_record, record_name

UNKNOWN_TIER = 255  # a previous tier the commit does not know: every other tier's set is cleared


def _packed(code: str, values: Sequence[int] | Sequence[float]) -> bytes:
    """`values` as one little-endian string of struct `code` items, for the commit script."""
    return struct.pack(f"<{len(values)}{code}", *values)


def _unpacked(code: str, packed: bytes) -> tuple[int, ...]:
    """`packed`'s whole items of struct `code` (little-endian)."""
    size = struct.calcsize(code)
    return struct.unpack(f"<{len(packed) // size}{code}", packed[: len(packed) // size * size])


def _within(numbers: Sequence[int], most: int) -> bool:
    """All of `numbers` are in 1..most (member and shape numbers count from 1)."""
    return not numbers or (min(numbers) >= 1 and max(numbers) <= most)


def check_tier_count(model: str, tiers: Sequence[str]) -> None:
    """ValueError when `model` has more tiers than a tier byte can number."""
    if len(tiers) >= UNKNOWN_TIER:
        most = UNKNOWN_TIER - 1
        raise ValueError(f"model {model!r} has {len(tiers)} tiers; at most {most} are stored")


@dataclass(frozen=True, slots=True)
class Committed:
    """The batch is in Redis."""


@dataclass(frozen=True, slots=True)
class Fenced:
    """Another worker owns the partition now; nothing was written."""


@dataclass(frozen=True, slots=True)
class AlreadyApplied:
    """The partition's applied offset is already at or past this batch; nothing was written."""


CommitResult = Committed | Fenced | AlreadyApplied


@dataclass(slots=True)
class AccountWrite:
    """The fields of one account to write (meta `m`, profile `p`, one blob per model
    `s:<model>`), each an entry of the account's record."""

    account_id: str
    fields: dict[str, bytes] = field(default_factory=dict)


# A value: treat it as one. Not frozen because a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~0.9 µs against ~0.25, and a commit packed by account
# (`CommitBatch.of`: profile batches) builds one Rank per account and model.
@dataclass(slots=True)
class Rank:
    """An account's place in its model's ranking: in the set of its tier, by total."""

    account_id: str
    model: str
    tiers: tuple[str, ...]  # the model's tiers, highest first
    tier: str
    total: float
    # The tier whose set holds the account now (its tier when loaded), so only that set is
    # touched; None when unknown (e.g. a model version renamed tiers): every other set is.
    previous_tier: str | None = None


@dataclass(frozen=True, slots=True)
class Ranking:
    """One model's ranking entries of a batch, columnar (see `CommitBatch`): entry i puts
    member i in the set of tier `tiers[tier_indexes[i]]`, by `totals[i]`."""

    model: str
    tiers: tuple[str, ...]  # the model's tiers, highest first; at most 254
    tier_indexes: bytes  # a byte per entry
    # A byte per entry: the tier whose set holds the account now (its tier when loaded), so
    # only that set is touched; 255 when unknown (e.g. a model version renamed tiers): every
    # other set is.
    previous_indexes: bytes
    totals: bytes  # <d per entry
    members: bytes | None = None  # <I4 member per entry; None: the written accounts in order


@dataclass(frozen=True, slots=True)
class WrittenGroup:
    """Accounts that write the same fields, in order, with a due time each (`<d`, NaN
    unschedules) and their rankings (whose members are these accounts in order: None)."""

    accounts: Sequence[str]
    fields: tuple[str, ...]
    records: Sequence[bytes]  # per account: its fields as record entries (`pack_record`)
    due_times: bytes
    rankings: Sequence[Ranking]


@dataclass(frozen=True, slots=True)
class CommitBatch:
    """One batch's account writes, due times and ranking entries as the commit script takes
    them: packed, a few strings per batch rather than several objects per account.

    Accounts are named by member number: `accounts` (written, in order) are 1..n, `others`
    (named by due times or ranks only) n+1 on. `CommitBatch.of` builds one from per-account
    values, `CommitBatch.of_groups` from groups of accounts packed alike (the pipeline's, from
    `Engine.dump_many`).
    """

    accounts: Sequence[str]
    shapes: Sequence[tuple[str, ...]]  # the field names some accounts write
    record_shapes: bytes  # <H per account: its shape (1-based)
    records: Sequence[bytes]  # per account: its shape's fields as record entries (`pack_record`)
    due_times: bytes = b""  # <d per entry; NaN unschedules the account
    due_members: bytes | None = None  # <I4 per entry; None: the written accounts in order
    rankings: Sequence[Ranking] = ()
    others: Sequence[str] = ()

    @classmethod
    def of_groups(cls, groups: Sequence[WrittenGroup]) -> CommitBatch:
        """The batch of these groups' accounts, in order (the pipeline's, from
        `Engine.dump_many`: a call per group)."""
        groups = [group for group in groups if group.accounts]
        for group in groups:
            n = len(group.accounts)
            if (
                len(group.records) != n
                or len(group.due_times) != 8 * n
                or any(r.members is not None or len(r.tier_indexes) != n for r in group.rankings)
            ):
                raise ValueError("a group's columns must name each of its accounts once, in order")
        if len(groups) == 1:  # every ranking names every account in order: no member numbers
            (only,) = groups
            return cls(
                only.accounts,
                [only.fields],
                _packed("H", [1] * len(only.accounts)),
                only.records,
                only.due_times,
                None,
                only.rankings,
            )
        accounts: list[str] = []
        records: list[bytes] = []
        record_shapes: list[int] = []
        by_model: dict[str, list[tuple[int, Ranking]]] = {}
        for shape, group in enumerate(groups, start=1):
            for ranking in group.rankings:
                by_model.setdefault(ranking.model, []).append((len(accounts) + 1, ranking))
            accounts.extend(group.accounts)
            records.extend(group.records)
            record_shapes.extend([shape] * len(group.accounts))
        rankings = [
            Ranking(
                model,
                parts[0][1].tiers,
                b"".join(ranking.tier_indexes for _, ranking in parts),
                b"".join(ranking.previous_indexes for _, ranking in parts),
                b"".join(ranking.totals for _, ranking in parts),
                _packed(
                    "I",
                    [
                        number
                        for first, ranking in parts
                        for number in range(first, first + len(ranking.tier_indexes))
                    ],
                ),
            )
            for model, parts in by_model.items()
        ]
        return cls(
            accounts,
            [group.fields for group in groups],
            _packed("H", record_shapes),
            records,
            b"".join(group.due_times for group in groups),
            None,
            rankings,
        )

    def check(self) -> None:
        """Raises ValueError unless the columns agree in length and range: a script that failed
        halfway through would leave what it wrote before (Redis does not undo a script's
        writes). Per batch, not per entry: the scans are min/max in C."""
        n = len(self.accounts)
        entries = n if self.due_members is None else len(self.due_members) // 4
        problems = [
            len(self.records) != n,
            len(self.record_shapes) != 2 * n,
            not _within(_unpacked("H", self.record_shapes), len(self.shapes)),
            len(self.due_times) != 8 * entries,
            self.due_members is not None and len(self.due_members) != 4 * entries,
        ]
        members = n + len(self.others)
        if self.due_members is not None:
            problems.append(not _within(_unpacked("I", self.due_members), members))
        for ranking in self.rankings:
            count = len(ranking.tier_indexes)
            problems += [
                len(ranking.previous_indexes) != count,
                len(ranking.totals) != 8 * count,
                max(ranking.tier_indexes, default=0) >= len(ranking.tiers),
            ]
            if ranking.members is None:
                problems.append(count != n)
            else:
                problems.append(len(ranking.members) != 4 * count)
                problems.append(not _within(_unpacked("I", ranking.members), members))
        if any(problems):
            raise ValueError("the commit batch's packed columns do not agree in length or range")

    @classmethod
    def of(
        cls,
        accounts: Sequence[AccountWrite],
        due: Mapping[str, float | None],
        ranks: Sequence[Rank] = (),
    ) -> CommitBatch:
        """The batch of these writes; `due` maps an account to the time its next tier drop is
        due, or None to unschedule it; `ranks` puts each account in the ranking set of its tier
        (and out of the others)."""
        if any(math.isnan(when) for when in due.values() if when is not None):
            raise ValueError("a due time is NaN; None unschedules an account")
        # Field-name tuple -> shape number.
        shapes: dict[tuple[str, ...], int] = {}
        record_shapes: list[int] = []
        records: list[bytes] = []
        members: dict[str, int] = {}
        for number, write in enumerate(accounts, start=1):
            names = tuple(write.fields)
            shape = shapes.get(names)
            if shape is None:
                shape = shapes[names] = len(shapes) + 1
            record_shapes.append(shape)
            records.append(pack_record({record_name(n): v for n, v in write.fields.items()}))
            members.setdefault(write.account_id, number)
        others: list[str] = []

        def member(account_id: str) -> int:
            number = members.get(account_id)
            if number is None:
                others.append(account_id)
                number = members[account_id] = len(accounts) + len(others)
            return number

        due_members = _packed("I", [member(account_id) for account_id in due])
        due_times = _packed("d", [math.nan if when is None else when for when in due.values()])
        by_model: dict[str, list[Rank]] = {}
        for rank in ranks:
            by_model.setdefault(rank.model, []).append(rank)
        rankings = []
        for model, model_ranks in by_model.items():
            tiers = model_ranks[0].tiers
            check_tier_count(model, tiers)
            tier_index = {tier: index for index, tier in enumerate(tiers)}
            rankings.append(
                Ranking(
                    model,
                    tiers,
                    bytes(tier_index[rank.tier] for rank in model_ranks),
                    bytes(
                        tier_index.get(rank.previous_tier or "", UNKNOWN_TIER)
                        for rank in model_ranks
                    ),
                    _packed("d", [rank.total for rank in model_ranks]),
                    _packed("I", [member(rank.account_id) for rank in model_ranks]),
                )
            )
        return cls(
            [write.account_id for write in accounts],
            list(shapes),
            _packed("H", record_shapes),
            records,
            due_times,
            due_members,
            rankings,
            others,
        )


def commit_arguments(
    keys: PartitionKeys,
    token: str,
    source: str,
    applied_offset: int | None,
    batch: CommitBatch,
    outbox: Sequence[bytes],
) -> tuple[list[str], list[bytes | str | int]]:
    """The KEYS and ARGV of `lua/commit.lua` for one batch (checked: `CommitBatch.check`).

    KEYS: the partition's fence, its applied offset of `source`, its outbox.

    ARGV, in order:

    - the fence token; the applied offset (`''` when the write consumes no offset: sweep,
      rescore); n_accounts; n_outbox; the account hashes' name without the bucket
      (`PartitionKeys.accounts`);
    - n_shapes, then per shape (the record names of the fields some accounts write): n_fields
      and the names; then the accounts' shapes as one string, `<H` shape (1-based) per account;
    - per written account: its id and its shape's entries in record form (`pack_record`);
    - the outbox payloads;
    - n_others, then the ids of accounts that the due times or ranks name but that are not
      written;
    - the due sets' name without the bucket (`PartitionKeys.due_sets`), then the due entries as
      two strings: `<I4` member per entry, `<d` time per entry (NaN: unschedule);
    - n_models, then per model: n_tiers, each tier's ranking sets' name without the bucket
      (`PartitionKeys.ranking_sets`, highest tier first), and its entries as four strings: `<I4`
      member, tier index (a byte), previous tier index (a byte, `UNKNOWN_TIER` = unknown), `<d`
      total.

    A member is an account by number: the written accounts in order from 1, then the others.
    Redis passes a Lua number on with 17 significant digits: exact. The script names each
    account's hash, due and ranking buckets itself (`lua/buckets.lua`).
    """
    written = b""
    if batch.due_members is None or any(r.members is None for r in batch.rankings):
        written = _packed("I", range(1, len(batch.accounts) + 1))
    args: list[bytes | str | int] = [
        token,
        "" if applied_offset is None else applied_offset,
        len(batch.accounts),
        len(outbox),
        keys.accounts,
        len(batch.shapes),
    ]
    for names in batch.shapes:
        args.append(len(names))
        args.extend(map(record_name, names))
    args.append(batch.record_shapes)
    for account_id, write in zip(batch.accounts, batch.records, strict=True):
        args += (account_id, write)
    args.extend(outbox)
    args.append(len(batch.others))
    args.extend(batch.others)
    args.append(keys.due_sets)
    args.append(written if batch.due_members is None else batch.due_members)
    args.append(batch.due_times)
    args.append(len(batch.rankings))
    for ranking in batch.rankings:
        check_tier_count(ranking.model, ranking.tiers)
        args.append(len(ranking.tiers))
        args.extend(keys.ranking_sets(ranking.model, tier) for tier in ranking.tiers)
        args.extend(
            (
                written if ranking.members is None else ranking.members,
                ranking.tier_indexes,
                ranking.previous_indexes,
                ranking.totals,
            )
        )
    return [keys.fence, keys.offset(source), keys.outbox], args


class BatchCommits(StoreBase):
    """The commit of `StateStore`."""

    async def commit(
        self,
        partition: int,
        token: str,
        source: str,
        applied_offset: int | None,
        accounts: Sequence[AccountWrite],
        outbox: Sequence[bytes],
        due: Mapping[str, float | None],
        ranks: Sequence[Rank] = (),
    ) -> CommitResult:
        """Writes one batch atomically, if `token` still holds the fence and the offset is new.

        `applied_offset` is the batch's last offset in `source`, or None for a write that
        consumes no offset (decay sweep, rescoring), which is fenced all the same.
        `due` maps an account to the time its next tier drop is due, or None to unschedule it;
        `ranks` puts each account in the ranking set of its tier (and out of the others).
        """
        batch = CommitBatch.of(accounts, due, ranks)
        return await self.commit_batch(partition, token, source, applied_offset, batch, outbox)

    async def commit_batch(
        self,
        partition: int,
        token: str,
        source: str,
        applied_offset: int | None,
        batch: CommitBatch,
        outbox: Sequence[bytes],
    ) -> CommitResult:
        """`commit` of a batch already packed (`CommitBatch`); ValueError, before anything is
        sent, when its columns do not agree."""
        batch.check()
        keys, args = commit_arguments(
            self.keys(partition), token, source, applied_offset, batch, outbox
        )
        result = await self.scripts.commit(keys=keys, args=args)
        if result == 1:
            return Committed()
        if result == 0:
            return Fenced()
        return AlreadyApplied()
