"""`scorer demo`: the live pipeline on the local stack, end to end, for a newcomer.

Starts a worker, produces a simulated market (a few hundred accounts, ~20,000 events over the
last 30 days), prints each tier change as it is published, then the top accounts per model, and
stops the worker. Each run uses its own topics and keys (`demo-<time>`), so runs never mix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NoReturn

import orjson
from aiokafka import AIOKafkaConsumer
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

from streams.cli.produce import produce
from streams.model_files import load_model_files
from streams.offline.simulate import simulate
from streams.runtime.processes import stop_gracefully
from streams.runtime.topics import SCORE_CHANGES
from streams.settings import Settings

COLORS = {"up": "\033[32m", "down": "\033[33m", "reset": "\033[0m"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, worker: subprocess.Popen[bytes], timeout: float) -> None:
    """Returns once the worker answers /healthz with 200; SystemExit if it exits first or is
    not healthy within `timeout` seconds."""

    def healthy() -> bool:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with code {worker.returncode}; see its log above")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:  # not listening yet, or 503: it owns no partition yet
            return False

    def never_healthy(_: RetryCallState) -> NoReturn:
        raise SystemExit(f"the worker did not become healthy within {timeout:.0f}s")

    polling = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.5),
        retry=retry_if_result(lambda ok: not ok),
        retry_error_callback=never_healthy,
    )
    polling(healthy)


def change_line(message: dict[str, object], names: dict[str, str], color: bool) -> str:
    up = message["cause"] != "decay" and message["total"] >= message["previous_total"]  # type: ignore[operator]
    tint = COLORS["up" if up else "down"] if color else ""
    reset = COLORS["reset"] if color else ""
    account = str(message["account_id"])
    explanation = message["explanation"]
    summary = explanation.get("summary", "") if isinstance(explanation, dict) else ""
    return (
        f"{tint}{account:<12} {names.get(account, '')[:22]:<22} {message['model']:<13} "
        f"{message['previous_tier']:>9} -> {message['tier']:<10}{reset} "
        f"{float(message['total']):5.1f}  {message['cause']:<7} {summary}"  # type: ignore[arg-type]
    )


async def follow_changes(
    settings: Settings, names: dict[str, str], idle: float, done_producing: asyncio.Event
) -> int:
    consumer = AIOKafkaConsumer(
        settings.topic(SCORE_CHANGES),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    color = sys.stdout.isatty()
    count = 0
    quiet_since = time.monotonic()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    print(change_line(orjson.loads(record.value), names, color), flush=True)
                    count += 1
                    quiet_since = time.monotonic()
            if done_producing.is_set() and time.monotonic() - quiet_since > idle:
                return count
    finally:
        await consumer.stop()


async def run_demo(settings: Settings, accounts: int, events: int, workdir: Path) -> None:
    market = simulate(accounts, events, end=time.time() - 60, seed=int(time.time()) % 1000)
    profiles_path, events_path = market.write(workdir)
    names = {str(p["account_id"]): str(p["name"]) for p in market.profiles}
    done = asyncio.Event()
    follower = asyncio.create_task(follow_changes(settings, names, idle=8.0, done_producing=done))
    print(f"producing {len(market.profiles):,} profiles and {len(market.events):,} events…\n")
    await produce(settings, profiles_path, "profiles", sys.stderr)
    await asyncio.sleep(2.0)  # let the profiles land first, as a CRM sync would
    await produce(settings, events_path, "events", sys.stderr)
    done.set()
    count = await follower
    print(f"\n{count:,} tier changes published.")


def top_accounts(port: int, models: list[str]) -> None:
    for model in models:
        url = f"http://127.0.0.1:{port}/accounts?model={model}&limit=10"
        with urllib.request.urlopen(url, timeout=10) as reply:
            top = orjson.loads(reply.read())["accounts"]
        print(f"\nTop accounts, {model} (GET /accounts?model={model}&limit=10):")
        for row in top:
            print(
                f"  {row['account_id']:<12} {row['tier']:<10} {row['total']:5.1f}  {row['summary']}"
            )


def run(args: argparse.Namespace) -> int:
    return demo(accounts=args.accounts, events=args.events, name=args.name)


def demo(accounts: int = 300, events: int = 20_000, name: str | None = None) -> int:
    """Runs the demo under `name` (default `demo-<UTC time>`): its topics and keys are its own."""
    name = name or f"demo-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    port = free_port()
    env = {
        **os.environ,
        "TOPIC_PREFIX": f"{name}.",
        "KEY_PREFIX": name,
        "APP_ID": f"{name}-scorer",
        "WEB_PORT": str(port),
        "DECAY_SWEEP_INTERVAL": os.environ.get("DECAY_SWEEP_INTERVAL", "5"),
    }
    os.environ.update(env)
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="scorer-demo-") as workdir:
        log_path = Path(workdir) / "worker.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            print(f"starting a worker (HTTP on 127.0.0.1:{port}, log {log_path})…")
            wait_healthy(port, worker, timeout=90)
            asyncio.run(run_demo(settings, accounts, events, Path(workdir)))
            models = [m.id for m in load_model_files([settings.models_dir])]
            top_accounts(port, models)
        finally:
            if stop_gracefully(worker) not in (0, -signal.SIGTERM):
                sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
        print("\nworker stopped. `make down` stops Kafka and Redis.")
    return 0
