"""What counts as an outage, and the one retry policy the worker uses while Redis or Kafka is away.

An outage (a service away for now) is retried until the service is back: a batch must not be
skipped, so the stream waits, and says why. Anything else (a Redis script error, a bug) is not
retried: it propagates, and the worker stops (`Worker.handle_or_die`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

log = logging.getLogger("scorer.worker")

T = TypeVar("T")

OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    KafkaConnectionError,
    KafkaTimeoutError,
    RequestTimedOutError,
    NotLeaderForPartitionError,
)
"""Failures that mean "a service is away for now": retried until it is back."""

OUTAGE_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Seconds before each retry after an outage; the last one repeats for as long as it lasts."""


class OutageRetry:
    """Calls `call()` until it returns, retrying (after `delays`, forever) while it fails with
    an outage; any other error propagates at once. `services` says where Redis and Kafka are,
    for the warning logged before each wait; `sleep` is injectable for tests."""

    def __init__(
        self,
        services: str,
        delays: Sequence[float] = OUTAGE_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.services = services
        self.delays = tuple(delays)
        self.sleep = sleep

    async def __call__(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        # The first attempt runs bare: tenacity's machinery costs tens of µs per call, and this
        # runs twice per partition and batch, where an outage is rare.
        try:
            return await call()
        except OUTAGES as err:
            self._warn(what, err, self._delay(0))
            await self.sleep(self._delay(0))
        retrying = AsyncRetrying(
            sleep=self.sleep,
            stop=stop_never,
            wait=lambda state: self._delay(state.attempt_number),
            retry=retry_if_exception_type(OUTAGES),
            before_sleep=lambda state: self._warn(what, _failure(state), state.upcoming_sleep),
            reraise=True,
        )
        return await retrying(call)

    def _delay(self, failures: int) -> float:
        """The wait after `failures` + 1 failures in a row."""
        return self.delays[min(failures, len(self.delays) - 1)]

    def _warn(self, what: str, err: BaseException | None, delay: float) -> None:
        log.warning(
            "%s failed (%s: %s); %s; retrying in %.1fs",
            what,
            type(err).__name__,
            err,
            self.services,
            delay,
        )


def _failure(state: RetryCallState) -> BaseException | None:
    return None if state.outcome is None else state.outcome.exception()
