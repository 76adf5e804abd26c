"""Child processes (workers started by the demo, the tests and the benchmarks)."""

from __future__ import annotations

import signal
import subprocess


def stop_gracefully(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
