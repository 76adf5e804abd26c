"""Redis memory per account under other key layouts: can 300 B per account and model be met?

One file of ~600 lines on purpose: each layout it compares is a short writer beside the others,
so that the figures of one run are read against the code that made them.

    nice -n 19 .venv/bin/python tests/bench/bench_memory_layout.py [--accounts 100000]
        [--events 1000000] [--partitions 4] [--buckets 64 128 256]

Starts its own `redis-server` (port 26390, no persistence, a temporary directory; shut down at
the end) and writes the SAME stored values in turn in each layout, measuring `INFO memory
used_memory` before and after (FLUSHALL in between, each figure from a fresh connection):

1. **current**: the worker's layout and values, written as a profiles batch writes them (an
   events batch packs the same values through `Engine.dump_many`). The values come from the
   project's code: a simulated market (`streams.offline.simulate.simulate`, 10 events per account
   like `make bench`) applied by `streams.offline.replay.Replay` (the engine), then
   `Pipeline.dump` (meta,
   deflated profile, one blob per model), `Pipeline.rank` and `Pipeline.due_time` per account,
   written by `StateStore.commit` (the real Lua commit, 500 accounts per call) and
   `StateStore.remember_domains`; Redis configured like the local stack
   (`hash-max-listpack-value 4096`, `zset-max-listpack-entries 256`, other encodings at their
   defaults).
2. **bucketed**: per partition, accounts hashed (crc32 of the id) into hashes of ~N accounts
   (`{P}:b:<bucket>`, fields `<account>:<field>`), the ranking and due sorted sets bucketed the
   same way (`{P}:ranking:<model>:<tier>:<bucket>`, `{P}:due:<bucket>`), the domain map in hashes
   of ~N domains (`<prefix>:domains:{<bucket>}`); the listpack limits are raised just enough
   for every key to stay listpack. Also one variant with one field per account (its values
   packed into one, 2-byte length prefixes), to show what the field names cost.
3. **values alone**: the sum of the hash values' lengths, the floor no layout can go under.

Each layout's bytes are also split into the state hashes, the ranking and due sorted sets and
the domain map (used_memory after each part; for the current layout, whose commit writes hashes
and sorted sets together, what deleting the sorted sets frees). It also times a read of one
account's fields (HMGET, 20 pipelined batches of 1,000 random accounts): client wall time per
call and Redis's own time per call (`INFO commandstats`), since a listpack lookup scans the hash.
About a minute at the default 100,000 accounts (~45 s of CPU, mostly the simulation and the
engine). Not a test: figures are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import math
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
import redis.asyncio as aioredis

from scoring.decode import Rejection, decode_event, decode_profile
from scoring.engine import Engine
from streams.model_files import load_model_files
from streams.offline.replay import Replay
from streams.offline.simulate import simulate
from streams.runtime.messages import Outgoing
from streams.runtime.metrics import Metrics
from streams.runtime.pipeline import Pipeline
from streams.runtime.processes import FEW_COLLECTIONS
from streams.runtime.topics import account_partition
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.commit import AccountWrite, Committed, Rank
from streams.store.keys import PartitionKeys
from streams.store.records import ACCOUNT_BUCKETS, account_bucket
from streams.store.scripts import script_source
from streams.store.state_store import StateStore

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "deploy/models"
END = 1_795_000_000.0  # a fixed clock, so runs compare
PORT = 26390  # our own Redis; never the local stack's
PREFIX = "scorer"
COMMIT_BATCH = 500  # accounts per StateStore.commit call
READ_BATCH = 1_000  # HMGETs per pipelined batch
READ_ROUNDS = 20
TARGET_PER_ACCOUNT_MODEL = 300.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """What the worker stores for one account, as its own code produces it."""

    account_id: str
    partition: int
    write: AccountWrite  # fields m, p, s:<model>: the entries of its record
    due: float | None
    ranks: tuple[Rank, ...]  # one per model


@dataclass(slots=True)
class Measured:
    """One layout's figures."""

    name: str
    bytes_total: float
    # bytes of the account state hashes, the ranking and due sorted sets, the domain map
    parts: tuple[float, float, float] | None = None
    keys: int | None = None
    encodings: str = ""
    read_wall_us: float | None = None
    read_server_us: float | None = None
    read_server_min_us: float | None = None
    config: str = ""


@dataclass(slots=True)
class Layout:
    """A bucketed layout ready to write: key -> fields (hashes) or members (sorted sets)."""

    hashes: dict[str, dict[str, bytes]] = field(default_factory=dict)
    zsets: dict[str, dict[str, float]] = field(default_factory=dict)
    # account -> (key, fields) of its read
    reads: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


class _NoPublisher:
    """The pipeline object is used only for dump, rank and due times: nothing is published."""

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        raise AssertionError("the memory bench publishes nothing")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


# --- our own Redis ---------------------------------------------------------------------------


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_redis(directory: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    if port_in_use(PORT):
        raise SystemExit(f"port {PORT} is taken: not touching someone else's Redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20.0
    while not port_in_use(PORT):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"redis-server did not start on port {PORT}")
        time.sleep(0.05)
    return process


def stop_redis(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM: with save "" Redis exits without writing anything
    try:
        process.wait(10.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def url() -> str:
    return f"redis://127.0.0.1:{PORT}/0"


async def used_memory() -> int:
    """`used_memory` read over a fresh connection, once pending rehashing had time to finish
    (the writers' connections, and their query buffers, are closed by then)."""
    await asyncio.sleep(1.0)
    client = aioredis.Redis.from_url(url())
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def reset(client: aioredis.Redis, config: dict[str, int]) -> None:
    await client.flushall(asynchronous=False)
    for name, value in config.items():
        await client.config_set(name, value)
    await client.script_load(script_source("commit"))  # cached before the baseline, not counted


async def encodings(client: aioredis.Redis, samples: dict[str, Sequence[str]]) -> str:
    """`kind: encoding` for a sample of each kind of key (all sampled keys agreeing, or a
    count per encoding)."""
    parts = []
    for kind, keys in samples.items():
        found: Counter[str] = Counter()
        for key in keys:
            value = await client.object("encoding", key)
            found[value.decode() if isinstance(value, bytes) else str(value)] += 1
        if len(found) == 1:
            parts.append(f"{kind} {next(iter(found))}")
        else:
            parts.append(f"{kind} " + " + ".join(f"{e} {c}/{len(keys)}" for e, c in found.items()))
    return ", ".join(parts)


def sample_keys(keys: Iterable[str], rng: random.Random, count: int = 20) -> list[str]:
    pool = list(keys)
    return rng.sample(pool, min(count, len(pool)))


async def read_cost(
    client: aioredis.Redis,
    reads: dict[str, tuple[str, tuple[str, ...]]],
    rng: random.Random,
) -> tuple[float, float, float]:
    """µs per HMGET in pipelined batches of READ_BATCH random accounts: the client's wall time
    (median of the rounds), Redis's own time per call (`INFO commandstats`; median and least of
    the rounds: the least is the one other load on the machine disturbed least)."""
    accounts = list(reads)
    walls, servers = [], []
    for _ in range(READ_ROUNDS):
        await client.config_resetstat()
        picked = rng.sample(accounts, min(READ_BATCH, len(accounts)))
        async with client.pipeline(transaction=False) as pipe:
            for account_id in picked:
                key, names = reads[account_id]
                pipe.hmget(key, names)
            started = time.perf_counter()
            replies = await pipe.execute()
            walls.append((time.perf_counter() - started) / len(picked) * 1e6)
        if any(value is None for reply in replies for value in reply):
            raise AssertionError("an HMGET missed a field: the layout lost a value")
        stats = await client.info("commandstats")
        servers.append(float(stats["cmdstat_hmget"]["usec_per_call"]))
    return statistics.median(walls), statistics.median(servers), min(servers)


# --- the values, from the project's own code ---------------------------------------------------


def build_accounts(
    pipeline: Pipeline, accounts: int, events: int, partitions: int
) -> tuple[list[AccountRecord], dict[str, str]]:
    """Every account's stored fields, due time and ranks after a simulated market, and the
    domain map (domain -> account id)."""
    say(f"simulating {accounts:,} accounts, {events:,} events")
    market = simulate(accounts, events, end=END, seed=5)
    replay = Replay(
        pipeline.engine.models,
        lambda change: None,
        io.StringIO(),
        dedupe_window=Settings().dedupe_window,
        allowed_lateness=Settings().allowed_lateness,
    )
    raw_profiles: dict[str, bytes] = {}
    say("applying them with the engine (streams.offline.replay.Replay)")
    for row in market.profiles:
        raw = orjson.dumps(row)  # the message value `make bench` produces
        profile = decode_profile(raw)
        if isinstance(profile, Rejection):
            raise AssertionError(profile.detail)
        replay.apply_profile(profile)
        raw_profiles[profile.account_id] = raw
    for row in market.events:
        event = decode_event(orjson.dumps(row))
        if isinstance(event, Rejection):
            raise AssertionError(event.detail)
        account_id = event.account_id or replay.domains[event.domain or ""]
        replay.apply_event(event, account_id)
    del market
    records = []
    for account_id, state in replay.states.items():
        records.append(
            AccountRecord(
                account_id,
                account_partition(account_id, partitions),
                pipeline.dump(state, raw_profiles[account_id]),
                pipeline.due_time(state),
                tuple(pipeline.rank(state, model_id, None) for model_id in pipeline.models),
            )
        )
    return records, dict(replay.domains)


# --- layout 1: as the worker writes today ------------------------------------------------------


async def measure_current(
    records: Sequence[AccountRecord], domains: dict[str, str], rng: random.Random
) -> Measured:
    client = connect_redis(url())
    await reset(
        client,
        {
            "hash-max-listpack-value": 4096,  # as the local stack and docker-compose.yml run it
            "hash-max-listpack-entries": 128,
            "zset-max-listpack-entries": 256,  # as the local stack and docker-compose.yml run it
            "zset-max-listpack-value": 64,
        },
    )
    await client.aclose()
    before = await used_memory()
    client = connect_redis(url())
    store = StateStore(client, PREFIX)
    by_partition: dict[int, list[AccountRecord]] = defaultdict(list)
    for record in records:
        by_partition[record.partition].append(record)
    for partition, owned in sorted(by_partition.items()):
        token = await store.take_fence(partition)
        for batch in chunks(owned, COMMIT_BATCH):
            result = await store.commit(
                partition,
                token,
                "events",
                None,
                [r.write for r in batch],
                [],
                {r.account_id: r.due for r in batch},
                [rank for r in batch for rank in r.ranks],
            )
            if not isinstance(result, Committed):
                raise AssertionError(f"commit of partition {partition}: {result}")
    await client.aclose()
    committed = await used_memory()
    client = connect_redis(url())
    store = StateStore(client, PREFIX)
    for named in chunks(list(domains.items()), 1_000):
        await store.remember_domains(dict(named))
    await client.aclose()
    after = await used_memory()

    client = connect_redis(url())
    account_keys = sorted(
        {store.keys(r.partition).account_hash(account_bucket(r.account_id)) for r in records}
    )
    sorted_sets = [
        k.decode() if isinstance(k, bytes) else k
        for pattern in ("*:ranking:*", "*:due:*")
        for k in await client.keys(pattern)
    ]
    measured = Measured(
        f"current (accounts in {ACCOUNT_BUCKETS:,} hashes per partition, one field each; "
        "sorted sets in 256 buckets per partition, domain map in 4,096 hashes)",
        after - before,
        parts=(0.0, 0.0, after - committed),
        keys=int(await client.dbsize()),
        encodings=await encodings(
            client,
            {
                "account": sample_keys(account_keys, rng),
                "rank/due": sample_keys(sorted_sets, rng),
                "domain": sample_keys(sorted({store.domain_bucket(d) for d in domains}), rng),
            },
        ),
    )
    (
        measured.read_wall_us,
        measured.read_server_us,
        measured.read_server_min_us,
    ) = await read_cost(
        client,
        {
            r.account_id: (
                store.keys(r.partition).account_hash(account_bucket(r.account_id)),
                (r.account_id,),
            )
            for r in records
        },
        rng,
    )
    # The commit writes hashes and sorted sets together: the sorted sets' share is what
    # deleting them frees.
    await client.delete(*sorted_sets)
    await client.aclose()
    without_sorted_sets = await used_memory()
    rank_due = after - without_sorted_sets
    measured.parts = (committed - before - rank_due, rank_due, after - committed)
    return measured


# --- layout 2: bucketed listpacks --------------------------------------------------------------


def bucket_of(name: str, buckets: int) -> int:
    # crc32, not murmur2: the partition already is murmur2 modulo the partition count.
    return zlib.crc32(name.encode()) % buckets


def packed(fields: dict[str, bytes]) -> bytes:
    """The account's values in one: per field (in a fixed order) a 2-byte length, the bytes."""
    return b"".join(struct.pack("<H", len(fields[n])) + fields[n] for n in sorted(fields))


def bucketed_layout(
    records: Sequence[AccountRecord], domains: dict[str, str], size: int, one_field: bool
) -> Layout:
    layout = Layout()
    by_partition: dict[int, list[AccountRecord]] = defaultdict(list)
    for record in records:
        by_partition[record.partition].append(record)
    for partition, owned in by_partition.items():
        tag = PartitionKeys(PREFIX, partition).tag
        buckets = max(1, math.ceil(len(owned) / size))
        for record in owned:
            bucket = bucket_of(record.account_id, buckets)
            key = f"{tag}:b:{bucket}"
            fields = layout.hashes.setdefault(key, {})
            a = record.account_id
            if one_field:
                fields[a] = packed(record.write.fields)
                layout.reads[a] = (key, (a,))
            else:
                names = tuple(f"{a}:{name}" for name in record.write.fields)
                fields.update(zip(names, record.write.fields.values(), strict=True))
                layout.reads[a] = (key, names)
            for rank in record.ranks:
                zset = f"{tag}:ranking:{rank.model}:{rank.tier}:{bucket}"
                layout.zsets.setdefault(zset, {})[a] = rank.total
            if record.due is not None:
                layout.zsets.setdefault(f"{tag}:due:{bucket}", {})[a] = record.due
    buckets = max(1, math.ceil(len(domains) / size))
    for domain, account_id in domains.items():
        key = f"{PREFIX}:domains:{{{bucket_of(domain, buckets)}}}"
        layout.hashes.setdefault(key, {})[domain] = account_id.encode()
    return layout


async def measure_bucketed(
    records: Sequence[AccountRecord],
    domains: dict[str, str],
    size: int,
    one_field: bool,
    rng: random.Random,
) -> Measured:
    layout = bucketed_layout(records, domains, size, one_field)
    client = connect_redis(url())
    # Just enough for every key to stay a listpack.
    config = {
        "hash-max-listpack-entries": max(len(f) for f in layout.hashes.values()),
        "hash-max-listpack-value": max(
            1024, *(len(v) for f in layout.hashes.values() for v in f.values())
        ),
        "zset-max-listpack-entries": max(len(z) for z in layout.zsets.values()),
        "zset-max-listpack-value": max(64, *(len(r.account_id) for r in records)),
    }
    await reset(client, config)
    await client.aclose()
    before = await used_memory()
    client = connect_redis(url())
    account_hashes = [k for k in layout.hashes if ":b:" in k]
    domain_hashes = [k for k in layout.hashes if ":domains:" in k]
    marks = [before]
    for part in (account_hashes, list(layout.zsets), domain_hashes):
        client = connect_redis(url())
        for batch in chunks(part, 100):
            async with client.pipeline(transaction=False) as pipe:
                for key in batch:
                    if key in layout.zsets:
                        pipe.zadd(key, layout.zsets[key])
                    else:
                        pipe.hset(key, mapping=layout.hashes[key])  # type: ignore[arg-type]
                await pipe.execute()
        await client.aclose()
        marks.append(await used_memory())
    after = marks[-1]

    client = connect_redis(url())
    shape = "one field per account, values packed" if one_field else "fields <account>:<field>"
    measured = Measured(
        f"bucketed, ~{size} accounts per hash ({shape})",
        after - before,
        parts=(marks[1] - marks[0], marks[2] - marks[1], marks[3] - marks[2]),
        config=" ".join(f"{name} {value}" for name, value in config.items()),
        keys=int(await client.dbsize()),
        encodings=await encodings(
            client,
            {
                "account": sample_keys(account_hashes, rng),
                "rank/due": sample_keys(layout.zsets, rng),
                "domain": sample_keys(domain_hashes, rng),
            },
        ),
    )
    (
        measured.read_wall_us,
        measured.read_server_us,
        measured.read_server_min_us,
    ) = await read_cost(client, layout.reads, rng)
    await client.aclose()
    return measured


# --- the run -----------------------------------------------------------------------------------


async def run(accounts: int, events: int, partitions: int, sizes: Sequence[int]) -> None:
    started = time.monotonic()
    rng = random.Random(3)
    models = load_model_files([MODELS])
    with tempfile.TemporaryDirectory(prefix="bench-memory-layout-") as tmp:
        redis_process = start_redis(Path(tmp))
        try:
            client = connect_redis(url())
            version = (await client.info("server"))["redis_version"]
            # The pipeline's dump, rank and due times do not touch Redis; a real store anyway.
            pipeline = Pipeline(
                Engine(models),
                StateStore(client, PREFIX),
                _NoPublisher(),
                Metrics(),
                max_future_skew=300.0,
            )
            thresholds = gc.get_threshold()
            gc.set_threshold(*FEW_COLLECTIONS)
            try:
                records, domains = build_accounts(pipeline, accounts, events, partitions)
            finally:
                gc.set_threshold(*thresholds)
            await client.aclose()
            n_models = len(models)
            n = len(records)

            results: list[Measured] = []
            say("layout: current (StateStore.commit)")
            results.append(await measure_current(records, domains, rng))
            for size in sizes:
                say(f"layout: bucketed, {size} accounts per hash")
                results.append(await measure_bucketed(records, domains, size, False, rng))
            one_field_size = 128 if 128 in sizes else sizes[0]
            say(f"layout: bucketed, {one_field_size} accounts per hash, one field per account")
            results.append(await measure_bucketed(records, domains, one_field_size, True, rng))
            values = sum(len(v) for r in records for v in r.write.fields.values())
            results.append(
                Measured("values alone (m + p + s:<model>, the floor)", values, (values, 0.0, 0.0))
            )
        finally:
            stop_redis(redis_process)

    sizes_by_field: dict[str, list[int]] = defaultdict(list)
    for record in records:
        for name, value in record.write.fields.items():
            sizes_by_field[name].append(len(value))
    print(
        f"memory layout bench: {n:,} accounts, {events:,} events simulated, {n_models} models "
        f"({', '.join(m.id for m in models)}), {partitions} partitions, {len(domains):,} "
        f"domains, redis {version}, python {sys.version.split()[0]}, "
        f"{time.monotonic() - started:.0f} s"
    )
    print(
        "value sizes (mean): "
        + ", ".join(f"{k} {statistics.fmean(v):.0f} B" for k, v in sorted(sizes_by_field.items()))
    )
    print()
    print(
        "| layout | keys | used_memory per account | per account and model "
        f"(target {TARGET_PER_ACCOUNT_MODEL:.0f}) | of which state / rank + due / domains, "
        "per account | encodings (OBJECT ENCODING, sample) "
        f"| HMGET of one account, µs per call: client (batch of {READ_BATCH:,}) / Redis "
        f"(median of {READ_ROUNDS} batches) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for m in results:
        per_account = m.bytes_total / n
        reads = (
            "-"
            if m.read_wall_us is None or m.read_server_us is None
            else f"{m.read_wall_us:.1f} / {m.read_server_us:.1f} (least {m.read_server_min_us:.1f})"
        )
        parts = "-" if m.parts is None else " / ".join(f"{p / n:,.0f}" for p in m.parts)
        print(
            f"| {m.name} | {'-' if m.keys is None else f'{m.keys:,}'} | {per_account:,.0f} B "
            f"| {per_account / n_models:,.0f} B | {parts} | {m.encodings or '-'} | {reads} |"
        )
    print()
    for m in results:
        if m.config:
            print(f"- {m.name}: {m.config}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=None, help="default: 10 per account")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--buckets", type=int, nargs="+", default=[64, 128, 256])
    args = parser.parse_args(argv)
    events = args.events if args.events is not None else args.accounts * 10
    asyncio.run(run(args.accounts, events, args.partitions, args.buckets))


if __name__ == "__main__":
    main()
