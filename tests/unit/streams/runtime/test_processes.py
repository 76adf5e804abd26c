"""Process-wide choices of the worker command: its event loop (streams/runtime/processes.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import pytest
import uvloop

from streams.runtime.processes import EventLoopUnavailable, use_event_loop


@pytest.fixture
def restored_policy() -> Iterator[None]:
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


def loop_type() -> type:
    loop = asyncio.new_event_loop()
    loop.close()
    return type(loop)


@pytest.mark.usefixtures("restored_policy")
def test_uvloop_makes_every_new_loop_a_uvloop_loop_and_asyncio_undoes_it() -> None:
    # faust's consumer thread creates its own loop: it must be a uvloop one too.
    use_event_loop("uvloop")
    assert loop_type() is uvloop.Loop
    use_event_loop("asyncio")
    assert loop_type() is not uvloop.Loop


@pytest.mark.usefixtures("restored_policy")
def test_uvloop_missing_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    with pytest.raises(EventLoopUnavailable, match="pip install uvloop.*EVENT_LOOP=asyncio"):
        use_event_loop("uvloop")
