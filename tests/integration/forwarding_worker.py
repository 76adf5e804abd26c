"""A faust worker of the project's app that forwards one topic to another (smoke test).

Run as `python tests/integration/forwarding_worker.py worker`; SMOKE_SOURCE and SMOKE_SINK name
the topics, and the usual settings environment (APP_ID, KAFKA_BOOTSTRAP, WEB_PORT) applies.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from streams.runtime.app import create_app
from streams.settings import Settings

app = create_app(Settings())
source = app.topic(os.environ["SMOKE_SOURCE"], value_serializer="raw", key_serializer="raw")
sink = app.topic(os.environ["SMOKE_SINK"], value_serializer="raw", key_serializer="raw")


@app.agent(source)
async def forward(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for event in stream.events():  # type: ignore[attr-defined]
        await sink.send(key=event.key, value=b"forwarded:" + event.value)
        yield event.value


if __name__ == "__main__":
    app.main()
