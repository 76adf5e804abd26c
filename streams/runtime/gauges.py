"""The gauges the worker refreshes on a timer: consumer lag and accounts per tier."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from scoring.engine import Engine
from streams.runtime.metrics import Metrics
from streams.runtime.retry import OUTAGES
from streams.store.state_store import StateStore

log = logging.getLogger("scorer.worker")

GAUGES_INTERVAL = 15.0
"""Seconds between two refreshes."""


async def refresh_gauges(
    consumer: Any,
    sources: Mapping[str, str],
    partitions: Sequence[int],
    engine: Engine,
    store: StateStore,
    metrics: Metrics,
) -> None:
    """Consumer lag of the assigned input partitions (`sources`: topic -> source name) and
    accounts per tier of the owned `partitions`. A refresh that meets an outage is skipped (the
    next one comes in `GAUGES_INTERVAL`): metrics never stop the worker."""
    try:
        await _refresh(consumer, sources, partitions, engine, store, metrics)
    except OUTAGES as err:
        log.warning("metrics refresh skipped: %s: %s", type(err).__name__, err)


async def _refresh(
    consumer: Any,
    sources: Mapping[str, str],
    partitions: Sequence[int],
    engine: Engine,
    store: StateStore,
    metrics: Metrics,
) -> None:
    # Only what the consumer has assigned right now: during a rebalance a fenced partition
    # may not be (or no longer be) assigned, and asking its high-water mark would raise.
    for tp in consumer.assignment():
        source = sources.get(tp.topic)
        if source is None:
            continue
        try:
            highwater = consumer.highwater(tp)
        except AssertionError:
            # aiokafka's "Partition is not assigned": the consumer thread rebalanced since
            # assignment() above. Skip it; the next refresh sees the new assignment.
            continue
        if highwater is not None:
            applied = await store.applied_offset(tp.partition, source)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(highwater - applied - 1, 0)
            )
    for model in engine.models:
        tiers = [tier.name for tier in model.tiers]
        counts = await store.tier_counts(partitions, model.id, tiers)
        for tier, count in counts.items():
            metrics.accounts_per_tier.labels(model.id, tier).set(count)
