"""Models and readings shared by the engine tests (test_engine_*.py): each test works out its
numbers by hand.

Most tests use one behavioral criterion of weight 1 on scale 10 with saturation 10, so that
`total = 100 * score / 10 = 10 * min(x, 10)`: a decayed sum of 4 points reads as a total of 40.
"""

from __future__ import annotations

from scoring.engine import Engine
from scoring.model import Model, Signal
from scoring.state import AccountState
from tests.unit.factories import DAY, behavioral, breadth, model, signal

VIEW = signal("view", "page_view", 4)


def one_criterion(
    signals: list[Signal] | None = None,
    *,
    half_life: float = DAY,
    saturation: float = 10.0,
    hysteresis: float = 0.0,
    version: int = 1,
) -> Model:
    """total = 10 * min(x, 10) (weight 1, scale 10, saturation 10)."""
    return model(
        [behavioral("eng", signals or [VIEW], half_life=half_life, saturation=saturation)],
        hysteresis=hysteresis,
        version=version,
    )


def total(engine: Engine, state: AccountState, at: float | None = None) -> float:
    return engine.score(state, "nb", at).total


def breadth_model(saturation: float = 5.0) -> Model:
    # total = 100 * (1 * s_eng + 1 * s_breadth) / (10 * 2) = 5 * (s_eng + s_breadth)
    return model(
        [
            behavioral(
                "eng",
                [signal("view", "page_view", 1), signal("unsub", "unsubscribe", -1)],
                half_life=1e12,
                saturation=1e9,  # keeps the behavioral score ~0
            ),
            breadth("group", "eng", window=10 * DAY, saturation=saturation),
        ]
    )


def breadth_score(engine: Engine, state: AccountState, at: float) -> float:
    return engine.score(state, "nb", at).criteria["group"]
