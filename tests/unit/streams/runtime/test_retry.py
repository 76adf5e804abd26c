"""The worker's retry policy (streams.runtime.retry): outages are retried after the same delays
for as long as they last; anything else propagates at once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.runtime.retry import OUTAGE_DELAYS, OutageRetry


class Flaky:
    """Fails with `errors[i]` on call i, then returns "done"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def policy() -> tuple[OutageRetry, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return OutageRetry("Redis is at r:1, Kafka at k:2", sleep=sleep), slept


async def test_a_call_that_succeeds_runs_once_and_never_waits() -> None:
    retry, slept = policy()
    call = Flaky()
    assert await retry("score batch", call) == "done"
    assert (call.calls, slept) == (1, [])


async def test_an_outage_is_retried_after_the_delays_then_the_last_one_again() -> None:
    retry, slept = policy()
    call = Flaky(*(RedisConnectionError("connection reset") for _ in range(7)))
    assert await retry("score batch", call) == "done"
    assert call.calls == 8
    assert slept == [0.1, 0.5, 1.0, 2.0, 5.0, 5.0, 5.0]
    assert tuple(slept[:5]) == OUTAGE_DELAYS


@pytest.mark.parametrize(
    "outage",
    [
        lambda: OSError("no route"),
        lambda: TimeoutError(),
        lambda: RedisConnectionError("refused"),
        lambda: BusyLoadingError("loading"),
        lambda: KafkaConnectionError("broker away"),
        lambda: NotLeaderForPartitionError(),
    ],
)
async def test_each_kind_of_outage_is_retried(outage: Callable[[], BaseException]) -> None:
    retry, slept = policy()
    assert await retry("publish outbox", Flaky(outage(), outage())) == "done"
    assert slept == [0.1, 0.5]


async def test_an_error_that_is_no_outage_propagates_at_once() -> None:
    retry, slept = policy()
    call = Flaky(ResponseError("a script error"))
    with pytest.raises(ResponseError):
        await retry("score batch", call)
    assert (call.calls, slept) == (1, [])


async def test_an_error_that_is_no_outage_ends_the_retries_of_an_outage() -> None:
    retry, slept = policy()
    call = Flaky(RedisConnectionError("reset"), RedisConnectionError("reset"), ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        await retry("score batch", call)
    assert (call.calls, slept) == (3, [0.1, 0.5])


async def test_each_wait_is_logged_with_the_call_the_error_and_where_the_services_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    retry, _ = policy()
    with caplog.at_level(logging.WARNING, logger="scorer.worker"):
        await retry("take fence", Flaky(RedisConnectionError("reset"), KafkaConnectionError("x")))
    assert [r.getMessage() for r in caplog.records] == [
        "take fence failed (ConnectionError: reset); Redis is at r:1, Kafka at k:2; "
        "retrying in 0.1s",
        "take fence failed (KafkaConnectionError: KafkaConnectionError: x); "
        "Redis is at r:1, Kafka at k:2; retrying in 0.5s",
    ]
