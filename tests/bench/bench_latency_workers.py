"""Latency at 5,000 events/s with one worker and with two, on the local stack (issue 5, item 4).

    .venv/bin/python tests/bench/bench_latency_workers.py [--workers 1 2] [--rounds 3]
        [--accounts 10000] [--seconds 30]

Each round is a fresh deployment (`bench_pipeline.Deployment`, its own topics and keys): 10,000
accounts' profiles (`--accounts`), then `bench_pipeline.latency_phase` for 30 s (`--seconds`),
with the CPU each process used during the phase (from /proc) and how busy the machine was. It
prints one line per round; docs/benchmarks.md quotes them. Not part of `make bench` (which
measures one worker): it answers whether a second worker on the same machine brings the p99
down.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline as bp  # noqa: E402

from streams.offline.simulate import simulate  # noqa: E402
from streams.runtime.kafka_admin import wait_for_topics  # noqa: E402
from streams.runtime.topics import EVENTS, PROFILES  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.store.client import connect_redis  # noqa: E402
from tests.integration.live import owned_by  # noqa: E402

ACCOUNTS, SECONDS = 10_000, 30.0


def another_worker(dep: bp.Deployment, n: int) -> tuple[subprocess.Popen[bytes], int]:
    """A worker beside the deployment's own, with the same settings and its own web port."""
    port = bp.free_port()
    return dep.spawn_worker(bp.MODELS, port, dep.workdir / f"other-worker-{n}.log"), port


async def settled(ports: list[int], partitions: int, timeout: float = 120) -> None:
    """Until every worker owns a partition and each partition has one owner: a rebalance in
    the measured phase would stall it for a second or two."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [await asyncio.to_thread(owned_by, port) or [] for port in ports]
        if all(found) and sorted(p for ps in found for p in ps) == list(range(partitions)):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the workers never settled on the partitions")


def machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values), values[3] + values[4]  # all, idle + iowait


def service_pid(pattern: str) -> int | None:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return int(found.split()[0]) if found.split() else None


async def one_round(workers: int, accounts: int, seconds: float) -> str:
    base = Settings()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S") + f"w{workers}"
    workdir = Path(f"/tmp/bench-latency-{stamp}")
    workdir.mkdir(parents=True)
    dep = bp.Deployment(base, stamp, workdir)
    s = dep.settings
    client = connect_redis(s.redis_url.get_secret_value())
    market = simulate(accounts, 10 * accounts, end=time.time() - 600, seed=5)
    profiles = bp.encode_rows(market.profiles, "profiles")
    templates = [e for e in market.events if "account_id" in e][:50_000]
    others: list[subprocess.Popen[bytes]] = []
    try:
        first = dep.start_worker(bp.MODELS)
        await wait_for_topics(s.kafka_bootstrap, [s.topic(EVENTS), s.topic(PROFILES)])
        await dep.wait_healthy()
        ports = [dep.port]
        for n in range(workers - 1):
            worker, port = another_worker(dep, n)
            others.append(worker)
            ports.append(port)
        await settled(ports, dep.partitions)
        await bp.produce_all(s.kafka_bootstrap, s.topic(PROFILES), profiles)
        await bp.wait_applied(client, dep, "profiles", timeout=180)

        pids = {"bench": os.getpid(), "worker": first.pid}
        pids.update({f"worker{n + 2}": w.pid for n, w in enumerate(others)})
        for name, pattern in (("kafka", "kafka.Kafka"), ("redis", "redis-server")):
            if (pid := service_pid(pattern)) is not None:
                pids[name] = pid
        cpu_before = {name: bp.process_cpu_seconds(pid) for name, pid in pids.items()}
        all_before, idle_before = machine_ticks()
        started = time.monotonic()
        result = await bp.latency_phase(client, dep, templates, bp.OFFERED_RATE, seconds, 180.0)
        elapsed = time.monotonic() - started
        all_after, idle_after = machine_ticks()
        cores = ", ".join(
            f"{name} {(bp.process_cpu_seconds(pid) - cpu_before[name]) / elapsed:.2f}"
            for name, pid in pids.items()
        )
        busy = 1 - (idle_after - idle_before) / max(all_after - all_before, 1)
        return (
            f"{workers} worker(s): to published p50 / p95 / p99 "
            f"{bp._ms(result['published_p50'])} / {bp._ms(result['published_p95'])} / "
            f"{bp._ms(result['published_p99'])}; to applied p99 {bp._ms(result['applied_p99'])}; "
            f"machine {busy:.0%} busy; cores used: {cores}"
        )
    finally:
        for worker in others:
            bp.stop_gracefully(worker, timeout=60)
        dep.stop_worker()
        await client.aclose()
        await bp.delete_run(base, dep)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=ACCOUNTS, help="10 events each")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="of offered load")
    args = parser.parse_args()
    for _ in range(args.rounds):
        for workers in args.workers:
            print(asyncio.run(one_round(workers, args.accounts, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
