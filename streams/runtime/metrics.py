"""Every Prometheus metric of the worker, declared once.

Conventions: counters end in `_total`, durations are `_seconds`, labels have low cardinality
(event type, model, tier, cause, error code, partition) and never an account id. Each worker
builds one `Metrics` on its own registry, so tests can read theirs without globals.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000)


class Metrics:
    """The worker's metrics on one registry; `render()` is the body of GET /metrics."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "scorer_events_consumed_total",
            "Messages read from the events topic, by type.",
            ["type"],
            registry=r,
        )
        self.events_applied = Counter(
            "scorer_events_applied_total",
            "Events applied to account state, by type.",
            ["type"],
            registry=r,
        )
        self.events_deduplicated = Counter(
            "scorer_events_deduplicated_total",
            "Repeated event_ids ignored, by type.",
            ["type"],
            registry=r,
        )
        self.events_too_late = Counter(
            "scorer_events_too_late_total",
            "Events refused for lying more than ALLOWED_LATENESS before their account's clock "
            "(sent to the dead-letter topic as too_late), by type.",
            ["type"],
            registry=r,
        )
        self.dead_letters = Counter(
            "scorer_dead_letters_total",
            "Messages sent to the dead-letter topic, by error code.",
            ["code"],
            registry=r,
        )
        self.profiles_applied = Counter(
            "scorer_profiles_applied_total", "Profiles applied to account state.", registry=r
        )
        self.batch_size = Histogram(
            "scorer_batch_size",
            "Messages per processed batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "scorer_batch_seconds",
            "Time to process one batch, read to commit.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.event_to_applied_seconds = Histogram(
            "scorer_event_to_applied_seconds",
            "From the event's time (occurred_at) to its state being committed in Redis.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_to_published_seconds = Histogram(
            "scorer_ingest_to_published_seconds",
            "From the message's Kafka timestamp to its score change being acknowledged.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tier_changes = Counter(
            "scorer_tier_changes_total",
            "Tier changes, by model, from, to and cause.",
            ["model", "from_tier", "to_tier", "cause"],
            registry=r,
        )
        self.redis_seconds = Histogram(
            "scorer_redis_call_seconds",
            "Latency of Redis calls, by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.publish_seconds = Histogram(
            "scorer_publish_seconds",
            "From sending up to 1,000 of a partition's outbox messages to Kafka to the broker's "
            "last ack (one observation per publish call).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "scorer_outbox_backlog",
            "Messages committed but not yet acknowledged by Kafka.",
            ["partition"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "scorer_consumer_lag",
            "Messages behind the end of the partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.accounts_per_tier = Gauge(
            "scorer_accounts",
            "Accounts per model and tier on this worker's partitions.",
            ["model", "tier"],
            registry=r,
        )
        self.fenced_batches = Counter(
            "scorer_fenced_batches_total",
            "Batches dropped because another worker owns the partition now.",
            registry=r,
        )
        self.rescored_accounts = Counter(
            "scorer_rescored_accounts_total",
            "Accounts whose state under the model was rescored after a model version change "
            "(an account already at the loaded version is not counted).",
            ["model"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
