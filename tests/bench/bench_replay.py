"""`make bench-replay`: the scoring core's offline replay on one core.

Two models of about 8 criteria and 10 signals each (deploy/models), a simulated market of
20,000 accounts and ~200,000 events. Reports events/s for the whole replay (decode, engine,
output with explanations) and for the event phase alone, and the state size per account and
model. Not a test: figures are written down in docs/benchmarks.md, never asserted.
"""

from __future__ import annotations

import gc
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scoring.engine import Engine
from streams.model_files import load_model_files
from streams.offline.replay import Replay, run_replay
from streams.offline.simulate import simulate
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
END = 1_795_000_000.0  # a fixed clock, so runs compare


def main(accounts: int = 20_000, events: int = 200_000, rounds: int = 3) -> None:
    models = load_model_files([ROOT / "deploy/models"])
    market = simulate(accounts, events, end=END, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        profiles, events_path = market.write(Path(tmp))
        out = Path(tmp) / "out.jsonl"
        whole, event_phase = [], []
        for _ in range(rounds):
            gc.collect()
            started = time.process_time()
            summary = run_replay(
                models,
                events=events_path,
                profiles=profiles,
                out=out,
                errors=io.StringIO(),
                dedupe_window=Settings().dedupe_window,
                allowed_lateness=Settings().allowed_lateness,
            )
            whole.append(summary.events / (time.process_time() - started))

            replay = Replay(
                models,
                lambda change: None,
                io.StringIO(),
                dedupe_window=Settings().dedupe_window,
                allowed_lateness=Settings().allowed_lateness,
            )
            replay.apply_profiles(profiles)
            gc.collect()
            started = time.process_time()
            replay.apply_events(events_path)
            event_phase.append(replay.summary.events / (time.process_time() - started))
        sizes = state_sizes(replay, Engine(models))
    print(
        f"replay bench: {len(models)} models "
        f"({', '.join(f'{m.id}: {len(m.criteria)} criteria' for m in models)}), "
        f"{accounts:,} accounts, {summary.events:,} events, python {sys.version.split()[0]}"
    )
    print(
        f"  whole replay (decode + engine + output): {statistics.median(whole):,.0f} events/s "
        f"(median of {rounds}; best {max(whole):,.0f})"
    )
    print(
        f"  event phase (decode + engine):           {statistics.median(event_phase):,.0f} "
        f"events/s (best {max(event_phase):,.0f})"
    )
    print(
        f"  state per account and model: median {sizes[0]:.0f} B, p95 {sizes[1]:.0f} B, "
        f"max {sizes[2]:.0f} B; account meta median {sizes[3]:.0f} B"
    )


def state_sizes(replay: Replay, engine: Engine) -> tuple[float, float, float, float]:
    blob_sizes, meta_sizes = [], []
    for state in replay.states.values():
        meta, blobs = engine.dump(state)
        meta_sizes.append(len(meta))
        blob_sizes.extend(len(blob) for blob in blobs.values())
    blob_sizes.sort()
    return (
        statistics.median(blob_sizes),
        blob_sizes[int(len(blob_sizes) * 0.95)],
        blob_sizes[-1],
        statistics.median(meta_sizes),
    )


if __name__ == "__main__":
    main()
