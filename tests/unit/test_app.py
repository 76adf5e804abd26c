"""The faust app built from `Settings`: its Kafka consumer's fetch wait, and no faust monitor
(streams/app.py)."""

from __future__ import annotations

import asyncio

from streams.app import create_app
from streams.settings import Settings


def test_the_worker_consumer_waits_at_most_the_configured_fetch_wait() -> None:
    async def created_wait(settings: Settings) -> int:
        app = create_app(settings)
        # The aiokafka consumer the consumer thread starts; creating it connects to nothing.
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._fetch_max_wait_ms)
        finally:
            await consumer.stop()

    assert asyncio.run(created_wait(Settings(kafka_fetch_max_wait=0.03))) == 30
    # faust-streaming's own value is 1500 ms: the default must stay far below it.
    assert asyncio.run(created_wait(Settings())) == 20


def test_faust_monitor_is_not_a_sensor_of_the_app() -> None:
    app = create_app(Settings())
    app.on_init_dependencies()  # what the worker calls when it starts the app
    assert app.monitor not in set(app.sensors)
