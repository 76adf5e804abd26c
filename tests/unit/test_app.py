"""The faust app built from `Settings`: its Kafka consumer's fetch wait and size, its working
directory, and no faust monitor (streams/app.py)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from streams.app import create_app
from streams.settings import Settings


def test_the_worker_consumer_fetches_as_configured() -> None:
    async def created_fetch(settings: Settings) -> tuple[int, int]:
        app = create_app(settings)
        # The aiokafka consumer the consumer thread starts; creating it connects to nothing.
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._fetch_max_wait_ms), int(consumer._fetch_min_bytes)
        finally:
            await consumer.stop()

    configured = Settings(kafka_fetch_max_wait=0.03, kafka_fetch_min_bytes=1024)
    assert asyncio.run(created_fetch(configured)) == (30, 1024)
    # faust-streaming's own wait is 1500 ms and aiokafka's minimum 1 byte: the defaults must
    # stay far from both.
    assert asyncio.run(created_fetch(Settings())) == (20, 65536)


def test_faust_working_directory_is_under_the_data_dir(tmp_path: Path) -> None:
    # Not the directory the worker runs in: every test and bench run left one there.
    app = create_app(Settings(data_dir=tmp_path, app_id="scorer-a"))
    assert app.conf.datadir == tmp_path / "scorer-a-data"
    assert Settings().data_dir == Path(tempfile.gettempdir())


def test_faust_monitor_is_not_a_sensor_of_the_app() -> None:
    app = create_app(Settings())
    app.on_init_dependencies()  # what the worker calls when it starts the app
    assert app.monitor not in set(app.sensors)
