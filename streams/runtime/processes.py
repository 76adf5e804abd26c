"""Process-wide settings of our long-running commands, and child processes (workers started by
the demo, the tests and the benchmarks)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
from typing import Literal, NoReturn

FEW_COLLECTIONS = (20_000, 50, 1_000)
"""Cyclic garbage collector thresholds for processes that keep many live objects (a replay's
account states, a worker's state cache of profiles): the default ones (a young collection every
700 allocations, older ones often) mostly rescan objects that stay alive. Measured: ~1.2 s of a
14 s replay; ~14 of ~45 µs of CPU per event of the pipeline with a warm state cache of 20,000
accounts (in-process, real Redis). Young collections still run, every 20,000 allocations, so
short-lived cycles are still freed."""


def collect_rarely() -> None:
    """Apply `FEW_COLLECTIONS` for the rest of the process."""
    gc.set_threshold(*FEW_COLLECTIONS)


class EventLoopUnavailable(RuntimeError):
    """The configured event loop cannot be used here."""


def use_event_loop(name: Literal["uvloop", "asyncio"]) -> None:
    """Make `name` the event loop of every loop created from now on in this process: faust's
    and its consumer thread's alike. Raises `EventLoopUnavailable` if uvloop is not installed."""
    if name == "asyncio":
        asyncio.set_event_loop_policy(None)
        return
    try:
        import uvloop
    except ImportError as err:
        raise EventLoopUnavailable(
            "EVENT_LOOP=uvloop, but uvloop is not installed: `pip install uvloop`, "
            "or set EVENT_LOOP=asyncio"
        ) from err
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def stop_gracefully(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def stop_process(reason: str) -> NoReturn:
    """Logs `reason` with the exception being handled and stops the process at once (exit 70,
    EX_SOFTWARE): for an error that is neither bad input nor an outage, where going on would
    be worse. The supervisor (systemd, Kubernetes) restarts the worker."""
    logging.getLogger("scorer.worker").critical("stopping the worker: %s", reason, exc_info=True)
    logging.shutdown()
    os._exit(70)
