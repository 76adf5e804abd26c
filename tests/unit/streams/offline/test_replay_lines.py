"""The replay's output lines of a simulated market, written by the native core, equal the lines
made in Python from each account's score and explanation (tests/unit/scoring/
test_native_output.py holds the two equal for any account)."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from scoring.engine import Engine
from scoring.state import AccountState
from scoring.timefmt import format_rfc3339
from streams.model_files import load_model_files
from streams.offline.replay import Replay
from streams.offline.simulate import simulate
from streams.settings import Settings
from tests.unit.factories import DAY, T0

ROOT = Path(__file__).resolve().parents[4]


def python_lines(engine: Engine, state: AccountState) -> bytes:
    lines = []
    for m in engine.models:
        score = engine.score(state, m.id)
        line = {
            "account_id": score.account_id,
            "model": score.model,
            "model_version": score.model_version,
            "total": score.total,
            "fit": score.fit,
            "engagement": score.engagement,
            "tier": score.tier,
            "clock": format_rfc3339(score.clock),
            "criteria": dict(score.criteria),
            "explanation": engine.explain(state, m.id).to_dict(),
        }
        lines.append(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
    return b"".join(lines)


def test_lines_of_a_simulated_market_equal_pythons(tmp_path: Path) -> None:
    models = load_model_files([ROOT / "deploy/models"])
    profiles, events = simulate(300, 6_000, end=T0 + 30 * DAY, seed=5).write(tmp_path)
    settings = Settings()
    replay = Replay(
        models,
        lambda change: None,
        io.StringIO(),
        dedupe_window=settings.dedupe_window,
        allowed_lateness=settings.allowed_lateness,
    )
    replay.apply_profiles(profiles)
    replay.apply_events(events)
    assert len(replay.states) == 300 and replay.summary.events > 5_000
    for state in replay.states.values():
        assert replay.engine.score_lines(state) == python_lines(replay.engine, state)
