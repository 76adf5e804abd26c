"""The framework floor: how fast a faust-streaming worker consumes when its agent does nothing.

    .venv/bin/python tests/bench/bench_faust_floor.py [--events 300000] [--partitions 4]

The pipeline benchmark (`bench_pipeline.py`) compares the worker with half of the raw aiokafka
ceiling. This bench measures what any faust worker reaches on the same topic shape before a
single line of ours runs, so that target can be put next to the framework's own cost:

1. a topic `floor-<stamp>-account-events` (4 partitions) gets `--events` simulated events
   (`streams.offline.simulate`, ~10,000 accounts, keyed by account id as `scorer produce` keys
   them),
   produced with aiokafka before any consumer runs (`bench_pipeline.produce_all`);
2. **ceiling**: `bench_pipeline.ceiling`, one raw aiokafka consumer, first record to last;
3. **no-op**: a separate worker process (this file with `--child noop`, started like
   `scorer worker`: `app.main()`), its app built by `streams.runtime.app.create_app` from a
   `Settings`
   read from the environment (own APP_ID, i.e. consumer group, and TOPIC_PREFIX), with one agent
   over the topic declared as `streams.runtime.worker` declares it (raw key and value serializers,
   `acks=False`, `internal=True`) that iterates `stream.take_events(BATCH_MAX, BATCH_WITHIN)`
   and does nothing with the batches;
4. **wrap**: the same agent calling `streams.runtime.messages.group_batch` (`Incoming` objects per
   partition),
   grouped per partition and sorted by offset, exactly as `Worker.handle` does before scoring:
   the per-event cost no processing of ours can avoid.

Rates are events/s from the agent's first batch to the batch that completes the topic (the
first batch counted, as `ceiling` counts its first fetch). CPU per event is the worker
process's user + system time (every thread: faust's consumer runs in a thread of its own) over
the same window, from `os.times()` in the worker, divided by the events; the whole run's CPU
(start-up included) is read from /proc/<pid>/stat as well. The topic and the workers' internal
topics share the run's prefix and are deleted at the end. Nothing is asserted.

`--faust-option NAME=VALUE` (repeatable) passes extra faust settings to both workers, to see
which setting moves the floor; values are parsed as JSON when they can be, else kept as text.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # imported from elsewhere (python -c, pytest): find the siblings
    sys.path.insert(0, str(HERE))

from bench_pipeline import (  # noqa: E402
    ceiling,
    encode_rows,
    free_port,
    process_cpu_seconds,
    produce_all,
)

from streams.offline.simulate import simulate  # noqa: E402
from streams.runtime.kafka_admin import (  # noqa: E402
    delete_topics_with_prefix,
    end_offsets,
    ensure_topics,
)
from streams.runtime.processes import stop_gracefully  # noqa: E402
from streams.runtime.topics import EVENTS  # noqa: E402
from streams.settings import Settings  # noqa: E402

ACCOUNTS = 10_000
VARIANTS = ("noop", "wrap")
READY_TIMEOUT = 600.0  # longest wait for a worker to consume the topic, start-up included


# --- the worker process ------------------------------------------------------------------------


def child(variant: str) -> None:
    """The worker process: one agent over the events topic; writes its figures to FLOOR_RESULT
    (JSON) once it has seen FLOOR_EXPECTED events, then idles until it is stopped."""
    from streams.runtime.app import create_app
    from streams.runtime.messages import group_batch
    from streams.runtime.processes import use_event_loop

    settings = Settings()
    use_event_loop(settings.event_loop)  # the scorer's worker's loop (`scorer worker`)
    expected = int(os.environ["FLOOR_EXPECTED"])
    result = Path(os.environ["FLOOR_RESULT"])
    overrides: dict[str, object] = json.loads(os.environ.get("FLOOR_FAUST_OPTIONS", "{}"))
    app = create_app(settings, **overrides)
    raw = {"value_serializer": "raw", "key_serializer": "raw", "internal": True}
    topic = app.topic(
        settings.topic(EVENTS), partitions=settings.topic_partitions, acks=False, **raw
    )
    wrap = variant == "wrap"

    @app.agent(topic, name="floor")
    async def floor(stream: Any) -> AsyncIterator[None]:
        seen, batches = 0, 0
        first_wall = first_cpu = 0.0
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within):
            if seen == 0:
                first_wall, first_cpu = time.monotonic(), _cpu()
            if wrap:
                group_batch(batch)  # Worker.handle's own wrapping
            seen += len(batch)
            batches += 1
            if seen >= expected and not result.exists():
                wall, cpu = time.monotonic() - first_wall, _cpu() - first_cpu
                partial = result.with_suffix(".tmp")
                partial.write_text(
                    json.dumps({"events": seen, "batches": batches, "seconds": wall, "cpu": cpu})
                )
                partial.rename(result)  # the parent sees the whole file or none
            yield None  # as score_events does: one value per batch to the (absent) sinks

    level = settings.log_level
    sys.argv = ["floor", "worker", "--loglevel", {"warning": "warn"}.get(level, level)]
    app.main()


def _cpu() -> float:
    """User + system CPU seconds of this process, every thread."""
    times = os.times()
    return times.user + times.system


async def run_worker(
    bootstrap: str,
    prefix: str,
    variant: str,
    expected: int,
    partitions: int,
    workdir: Path,
    faust_options: Mapping[str, object],
) -> dict[str, float]:
    """Starts a worker process of `variant` in its own consumer group, waits until it has
    consumed `expected` events, stops it; returns its figures."""
    result = workdir / f"{variant}.json"
    log = workdir / f"{variant}.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "TOPIC_PREFIX": prefix,
        "APP_ID": f"{prefix}{variant}",
        "TOPIC_PARTITIONS": str(partitions),
        "WEB_PORT": str(free_port()),
        "LOG_LEVEL": "warning",
        "FLOOR_EXPECTED": str(expected),
        "FLOOR_RESULT": str(result),
        "FLOOR_FAUST_OPTIONS": json.dumps(dict(faust_options)),
    }
    started = time.monotonic()
    with log.open("wb") as handle:
        # cwd: faust writes its data directory (<app id>-data) there; keep it in the workdir.
        worker = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", variant],
            env=env,
            cwd=workdir,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        while not result.exists():
            if worker.poll() is not None:
                raise RuntimeError(
                    f"the {variant} worker exited ({worker.returncode})\n{_tail(log)}"
                )
            if time.monotonic() - started > READY_TIMEOUT:
                raise RuntimeError(f"the {variant} worker did not finish in time\n{_tail(log)}")
            await asyncio.sleep(0.05)
        total_cpu = process_cpu_seconds(worker.pid)
        until_done = time.monotonic() - started
    finally:
        await asyncio.to_thread(stop_gracefully, worker, 60)
    figures = json.loads(result.read_text())
    events, seconds, cpu = figures["events"], figures["seconds"], figures["cpu"]
    return {
        f"{variant}_events_per_s": events / max(seconds, 1e-9),
        f"{variant}_cpu_us_per_event": cpu / events * 1e6,
        f"{variant}_cpu_share": cpu / max(seconds, 1e-9),  # 1.0 = one core busy all along
        f"{variant}_seconds": seconds,
        f"{variant}_events": float(events),
        f"{variant}_events_per_batch": events / max(figures["batches"], 1),
        f"{variant}_start_to_done_seconds": until_done,
        f"{variant}_process_cpu_seconds": total_cpu,  # the whole run, start-up included
    }


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the bench ---------------------------------------------------------------------------------


async def faust_floor(
    bootstrap: str,
    events: int = 300_000,
    partitions: int = 4,
    *,
    faust_options: Mapping[str, object] | None = None,
) -> dict[str, float]:
    """Produces `events` simulated events into a fresh topic, then measures the raw aiokafka
    ceiling and the no-op and wrapping faust workers on it (figures described in the module
    docstring). Everything the run creates is deleted at the end."""
    started = time.monotonic()
    prefix = f"floor-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-"
    topic = f"{prefix}{EVENTS}"
    out: dict[str, float] = {}
    try:
        await ensure_topics(bootstrap, {topic: {}}, partitions, replication_factor=1)
        market = simulate(
            ACCOUNTS, int(events * 1.05), end=time.time() - 600, seed=5, domain_share=0.0
        )
        rows = (market.events * (events // max(len(market.events), 1) + 1))[:events]
        messages = encode_rows(rows, "events")
        out["event_bytes"] = sum(len(value) for _, value in messages) / len(messages)
        out["accounts"] = float(len({key for key, _ in messages}))
        out["produce_events_per_s"] = await produce_all(bootstrap, topic, messages)
        del market, rows, messages
        expected = sum((await end_offsets(bootstrap, topic, partitions)).values())
        out["events"] = float(expected)
        print(f"floor: {expected:,} events in {topic}", flush=True)

        out["ceiling_events_per_s"] = await ceiling(bootstrap, topic, partitions, expected)
        print(f"floor: ceiling {out['ceiling_events_per_s']:,.0f} events/s", flush=True)

        with tempfile.TemporaryDirectory(prefix="bench-faust-floor-") as tmp:
            for variant in VARIANTS:
                figures = await run_worker(
                    bootstrap, prefix, variant, expected, partitions, Path(tmp), faust_options or {}
                )
                out.update(figures)
                print(
                    f"floor: {variant} {figures[f'{variant}_events_per_s']:,.0f} events/s, "
                    f"{figures[f'{variant}_cpu_us_per_event']:.1f} µs CPU/event",
                    flush=True,
                )
    finally:
        await delete_topics_with_prefix(bootstrap, prefix)
    out["seconds"] = time.monotonic() - started
    return out


def report(figures: Mapping[str, float]) -> str:
    """The figures as a small Markdown table."""
    ceil = figures["ceiling_events_per_s"]
    lines = [
        f"{figures['events']:,.0f} events ({figures['event_bytes']:.0f} B average, "
        f"{figures['accounts']:,.0f} keys), produced at {figures['produce_events_per_s']:,.0f} "
        f"events/s; run took {figures['seconds']:.0f} s.",
        "",
        "| figure | events/s | share of ceiling | CPU per event | CPU busy |",
        "| --- | --- | --- | --- | --- |",
        f"| ceiling: raw aiokafka | {ceil:,.0f} | 100% | | |",
        f"| half the ceiling (the target) | {ceil / 2:,.0f} | 50% | | |",
    ]
    names = {"noop": "faust worker, no-op agent", "wrap": "faust worker, Incoming wrapping"}
    for variant in VARIANTS:
        rate = figures[f"{variant}_events_per_s"]
        lines.append(
            f"| {names[variant]} | {rate:,.0f} | {rate / ceil:.1%} | "
            f"{figures[f'{variant}_cpu_us_per_event']:.1f} µs | "
            f"{figures[f'{variant}_cpu_share']:.0%} |"
        )
    return "\n".join(lines)


def _option(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000, help="events to produce")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the topic")
    parser.add_argument(
        "--faust-option",
        type=_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra faust setting for both workers (repeatable)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="also write the table into this Markdown file, between the floor:begin/floor:end "
        "markers (appended when it has none)",
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    bootstrap = Settings().kafka_bootstrap
    figures = asyncio.run(
        faust_floor(bootstrap, args.events, args.partitions, faust_options=dict(args.faust_option))
    )
    print(report(figures))
    print(json.dumps(figures, indent=2, sort_keys=True))
    if args.out is not None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        heading = f"Run: {stamp}, `tests/bench/bench_faust_floor.py`: "
        write_block(args.out, heading + report(figures))
    return 0


FLOOR_BEGIN, FLOOR_END = "<!-- floor:begin -->", "<!-- floor:end -->"


def write_block(path: Path, generated: str) -> None:
    """Puts `generated` between the floor markers of `path`, keeping everything else."""
    text = path.read_text() if path.exists() else ""
    block = f"{FLOOR_BEGIN}\n{generated.rstrip()}\n{FLOOR_END}"
    if FLOOR_BEGIN in text and FLOOR_END in text:
        head, _, rest = text.partition(FLOOR_BEGIN)
        _, _, tail = rest.partition(FLOOR_END)
        path.write_text(head + block + tail)
    else:
        path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
