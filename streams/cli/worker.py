"""`scorer worker`: run a stream worker with the settings of the environment."""

from __future__ import annotations

import argparse
import asyncio
import sys

from streams.cli.models import load_models_or_exit
from streams.runtime.http_auth import exposure_problem
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.processes import EventLoopUnavailable, collect_rarely, use_event_loop
from streams.runtime.topics import topic_configs
from streams.runtime.worker import Worker
from streams.settings import Settings


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    problem = exposure_problem(settings)
    if problem is not None:
        print(f"scorer worker: {problem}", file=sys.stderr)
        return 2
    try:
        use_event_loop(settings.event_loop)
    except EventLoopUnavailable as err:
        print(f"scorer worker: {err}", file=sys.stderr)
        return 1
    worker = Worker(settings, load_models_or_exit([str(settings.models_dir)]))
    try:
        asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap,
                topic_configs(settings),
                settings.topic_partitions,
                settings.topic_replication_factor,
            )
        )
    except (OSError, TimeoutError, RuntimeError) as err:
        host, port = settings.kafka_endpoint()
        print(
            f"scorer worker: cannot prepare the topics on Kafka at {host}:{port} ({err}). "
            "Is Kafka running (`make up`), and is KAFKA_BOOTSTRAP right?",
            file=sys.stderr,
        )
        return 1
    level = args.loglevel or settings.log_level
    # faust's own command line (click) reads sys.argv: hand it the worker command, in its
    # spelling of the level.
    sys.argv = ["scorer", "worker", "--loglevel", {"warning": "warn"}.get(level, level)]
    collect_rarely()  # the state cache keeps up to STATE_CACHE_ACCOUNTS accounts alive
    worker.app.main()
    return 0
