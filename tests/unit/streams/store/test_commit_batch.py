"""The commit's packed batch (`CommitBatch`): built by account or by group alike, and refused
before it is sent when its columns disagree."""

from __future__ import annotations

import dataclasses
import math
import struct

import pytest

from streams.store.commit import AccountWrite, CommitBatch, Rank, Ranking, WrittenGroup
from streams.store.records import pack_record, record_name, split_record

TIERS = ("hot", "cold")


def group(
    accounts: list[str], fields: tuple[str, ...], due: list[float], tiers: bytes
) -> WrittenGroup:
    """Accounts writing `fields` (values `<account>-<field>`), ranked under model nb with totals
    1, 2, ...; every previous tier unknown but the last account's (cold)."""
    records = []
    for account in accounts:
        records.append(pack_record({record_name(n): f"{account}-{n}".encode() for n in fields}))
    n = len(accounts)
    previous = b"\xff" * (n - 1) + b"\x01" if n else b""
    ranking = Ranking("nb", TIERS, tiers, previous, struct.pack(f"<{n}d", *range(1, n + 1)))
    return WrittenGroup(accounts, fields, records, struct.pack(f"<{n}d", *due), [ranking])


def whole_batch() -> CommitBatch:
    """Two accounts written whole, due and ranked under a two-tier model."""
    return CommitBatch.of_groups([group(["a", "b"], ("m",), [5.0, math.nan], b"\x00\x01")])


def written(batch: CommitBatch) -> tuple[list[tuple[str, dict[str, bytes]]], dict, dict]:
    """What the commit script would write for `batch`: (account, fields) in order, account ->
    due time (None: unscheduled), (account, model) -> (tier, previous tier, total)."""
    batch.check()
    members = [*batch.accounts, *batch.others]
    n = len(batch.accounts)
    shapes = struct.unpack(f"<{n}H", batch.record_shapes)
    writes = []
    for account, shape, record in zip(batch.accounts, shapes, batch.records, strict=True):
        names = {record_name(name): name for name in batch.shapes[shape - 1]}
        entries = split_record(record)
        assert set(entries) == set(names)
        writes.append((account, {names[name]: value for name, value in entries.items()}))

    def named(packed: bytes | None, count: int) -> list[str]:
        numbers = range(1, n + 1) if packed is None else struct.unpack(f"<{count}I", packed)
        return [members[number - 1] for number in numbers]

    times = struct.unpack(f"<{len(batch.due_times) // 8}d", batch.due_times)
    due = {
        account: None if math.isnan(t) else t
        for account, t in zip(named(batch.due_members, len(times)), times, strict=True)
    }
    ranks = {}
    for ranking in batch.rankings:
        count = len(ranking.tier_indexes)
        totals = struct.unpack(f"<{count}d", ranking.totals)
        for account, tier, previous, total in zip(
            named(ranking.members, count),
            ranking.tier_indexes,
            ranking.previous_indexes,
            totals,
            strict=True,
        ):
            ranks[(account, ranking.model)] = (tier, previous, total)
    return writes, due, ranks


def test_a_batch_packed_by_account_equals_the_same_batch_packed_in_one_group() -> None:
    by_account = CommitBatch.of(
        [AccountWrite("a", {"m": b"a-m"}), AccountWrite("b", {"m": b"b-m"})],
        {"a": 5.0, "b": None},
        [
            Rank("a", "nb", TIERS, "hot", 1.0),
            Rank("b", "nb", TIERS, "cold", 2.0, "cold"),
        ],
    )
    one_group = whole_batch()
    assert one_group.due_members is None  # every entry names the written accounts in order
    assert one_group.rankings[0].members is None
    assert written(by_account) == written(one_group)
    assert written(one_group)[2] == {("a", "nb"): (0, 255, 1.0), ("b", "nb"): (1, 1, 2.0)}


def test_groups_written_differently_are_numbered_in_one_batch() -> None:
    batch = CommitBatch.of_groups(
        [
            group(["a", "b"], ("m", "s:nb"), [5.0, math.nan], b"\x00\x01"),
            group([], ("s:nb",), [], b""),
            group(["c"], ("s:nb",), [7.0], b"\x01"),
        ]
    )
    by_account = CommitBatch.of(
        [
            AccountWrite("a", {"m": b"a-m", "s:nb": b"a-s:nb"}),
            AccountWrite("b", {"m": b"b-m", "s:nb": b"b-s:nb"}),
            AccountWrite("c", {"s:nb": b"c-s:nb"}),
        ],
        {"a": 5.0, "b": None, "c": 7.0},
        [
            Rank("a", "nb", TIERS, "hot", 1.0),
            Rank("b", "nb", TIERS, "cold", 2.0, "cold"),
            Rank("c", "nb", TIERS, "cold", 1.0, "cold"),
        ],
    )
    assert written(batch) == written(by_account)
    assert struct.unpack("<3H", batch.record_shapes) == (1, 1, 2)


@pytest.mark.parametrize(
    "damage",
    [
        {"records": [b"\x01\x00\x00\x00x"]},
        {"record_shapes": b"\x01\x00"},
        {"record_shapes": b"\x01\x00\x02\x00"},
        {"due_times": struct.pack("<d", 5.0)},
        {"due_members": struct.pack("<2I", 1, 3)},
        {"others": ["c"], "due_members": struct.pack("<I", 4), "due_times": struct.pack("<d", 1)},
    ],
)
def test_a_batch_whose_columns_disagree_is_refused_before_it_is_sent(damage: dict) -> None:
    with pytest.raises(ValueError, match="do not agree"):
        dataclasses.replace(whole_batch(), **damage).check()


@pytest.mark.parametrize(
    "damage",
    [
        {"tier_indexes": b"\x00"},
        {"tier_indexes": b"\x00\x02"},
        {"previous_indexes": b"\xff"},
        {"totals": struct.pack("<d", 9)},
        {"members": struct.pack("<I", 1)},
        {"members": struct.pack("<2I", 1, 0)},
    ],
)
def test_a_ranking_whose_columns_disagree_is_refused_before_it_is_sent(damage: dict) -> None:
    batch = whole_batch()
    ranking = dataclasses.replace(batch.rankings[0], **damage)
    with pytest.raises(ValueError, match="do not agree"):
        dataclasses.replace(batch, rankings=[ranking]).check()


def test_a_group_whose_columns_do_not_name_each_account_once_is_refused() -> None:
    short = group(["a", "b"], ("m",), [5.0, 6.0], b"\x00\x01")
    long = group(["c"], ("m",), [7.0], b"\x01")
    with pytest.raises(ValueError, match="each of its accounts once"):
        CommitBatch.of_groups([dataclasses.replace(short, records=short.records[:1]), long])
    with pytest.raises(ValueError, match="each of its accounts once"):
        CommitBatch.of_groups([short, dataclasses.replace(long, due_times=b"")])
    ranking = dataclasses.replace(long.rankings[0], members=struct.pack("<I", 1))
    with pytest.raises(ValueError, match="each of its accounts once"):
        CommitBatch.of_groups([short, dataclasses.replace(long, rankings=[ranking])])
