"""Every setting of the project, declared once: type, default and environment variable.

Settings are read from the environment (variable names are the field names upper-cased, e.g.
`KAFKA_BOOTSTRAP`, `REDIS_URL`) and are frozen once built. Secrets are `SecretStr`, so they
never show up in logs or reprs. The local stack (`deploy/local/stack.py`) reads its addresses
from here too, so the defaults live in exactly one place.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scoring.engine import lateness_problem

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:16379/0"


class Settings(BaseSettings):
    """The scorer's configuration. Build it with `Settings()` (reads the environment)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    kafka_bootstrap: str = Field(
        DEFAULT_KAFKA_BOOTSTRAP,
        description="Kafka bootstrap servers, host:port[,host:port...] (env KAFKA_BOOTSTRAP).",
    )
    redis_url: SecretStr = Field(
        SecretStr(DEFAULT_REDIS_URL),
        description="Redis URL; may carry a password, so it is a secret (env REDIS_URL).",
    )
    kafka_session_timeout: float = Field(
        30.0,
        ge=6,
        description="Seconds before the group gives a silent worker's partitions to others "
        "(env KAFKA_SESSION_TIMEOUT); lower means faster takeover after a crash.",
    )
    kafka_fetch_max_wait: float = Field(
        0.02,
        gt=0,
        description="Seconds the broker may hold a fetch that finds no new messages (env "
        "KAFKA_FETCH_MAX_WAIT). The consumer keeps one fetch in flight per broker, so a long "
        "wait on a quiet topic (profiles) delays the busy one (events); see "
        "streams/runtime/app.py. "
        "Also the longest the worker waits for fetched messages while a full stream buffer "
        "holds some partition back (at most faust's 1 s).",
    )
    kafka_fetch_min_bytes: int = Field(
        65536,
        ge=1,
        description="Bytes the broker gathers before it answers a fetch, unless "
        "KAFKA_FETCH_MAX_WAIT passes first (env KAFKA_FETCH_MIN_BYTES). With Kafka's 1 byte, a "
        "steady load is fetched a few messages at a time and the fetches cost the worker and "
        "the broker a fifth of their CPU (docs/benchmarks.md).",
    )
    topic_prefix: str = Field(
        "", description="Prefix of every topic name, e.g. 'prod.' (env TOPIC_PREFIX)."
    )
    key_prefix: str = Field(
        "scorer", description="Prefix of every Redis key; tests use one each (env KEY_PREFIX)."
    )
    app_id: str = Field(
        "account-scorer", description="Faust app id = Kafka consumer group (env APP_ID)."
    )
    topic_replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of topics the worker creates; 3 in production "
        "(env TOPIC_REPLICATION_FACTOR).",
    )
    topic_partitions: int = Field(
        4, ge=1, description="Partitions of topics the app creates (env TOPIC_PARTITIONS)."
    )
    models_dir: Path = Field(
        Path("deploy/models"), description="Directory of model YAML files (env MODELS_DIR)."
    )
    data_dir: Path = Field(
        Path(tempfile.gettempdir()),
        description="Directory in which faust creates its working directory <APP_ID>-data "
        "(env DATA_DIR). The scorer keeps its state in Redis, so faust leaves only empty "
        "directories there; the default keeps them out of the directory the worker runs in.",
    )
    web_host: str = Field("127.0.0.1", description="HTTP bind address (env WEB_HOST).")
    web_port: int = Field(6066, ge=0, le=65535, description="HTTP port (env WEB_PORT).")
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token the HTTP API asks for on every page but /healthz (env "
        "API_TOKEN; clients send `Authorization: Bearer <token>`). Required when WEB_HOST is "
        "not a loopback address; at least 16 characters.",
    )
    metrics_public: bool = Field(
        False,
        description="Serve /metrics without the API token (env METRICS_PUBLIC), for a "
        "Prometheus that scrapes without credentials.",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="The worker's event loop (env EVENT_LOOP): uvloop, or Python's own asyncio "
        "loop, which costs the worker ~10% more CPU per event (docs/benchmarks.md).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level (env LOG_LEVEL)."
    )
    decay_sweep_interval: float = Field(
        60.0,
        ge=0,
        description="Seconds between decay sweeps; 0 turns it off (env DECAY_SWEEP_INTERVAL).",
    )
    max_future_skew: float = Field(
        300.0,
        ge=0,
        description="Seconds an event may lie ahead of the wall clock (env MAX_FUTURE_SKEW).",
    )
    batch_max: int = Field(
        1000, ge=1, description="Most messages scored in one batch (env BATCH_MAX)."
    )
    batch_within: float = Field(
        0.01,
        gt=0,
        description="Seconds a batch waits to fill up (env BATCH_WITHIN). Under a backlog "
        "it may go on (BATCH_BACKLOG_WITHIN); at a steady load this wait is part of every "
        "event's latency (docs/benchmarks.md: with 10,000 accounts at 5,000 events/s, 0.05 gave "
        "a p99 of ~300 ms, 0.01 under 100 ms).",
    )
    batch_backlog_within: float = Field(
        0.0,
        ge=0,
        description="Seconds a batch may go on gathering, up to BATCH_MAX, while Kafka holds ten "
        "batches more (env BATCH_BACKLOG_WITHIN; e.g. 0.1): larger batches drain a large "
        "backlog on less CPU per event where its events repeat accounts (10,000 accounts: 20-30% "
        "faster). Off by default until full runs at 100,000 accounts compare it on one machine "
        "state (docs/benchmarks.md, Backlog batches). At most BATCH_WITHIN means faust's own "
        "batching (streams/runtime/batching.py).",
    )
    dedupe_window: float = Field(
        7 * 86400.0, gt=0, description="Seconds an event_id is remembered (env DEDUPE_WINDOW)."
    )
    allowed_lateness: float = Field(
        7 * 86400.0,
        ge=0,
        description="Seconds an event may lie before its account's clock and still count "
        "exactly; a later one goes to the dead-letter topic as `too_late` (env "
        "ALLOWED_LATENESS; at most DEDUPE_WINDOW). The stream, `scorer replay` and the "
        "rescoring all use it (docs/scoring.md, The clock).",
    )
    state_cache_accounts: int = Field(
        100_000,
        ge=0,
        description="Decoded account states kept in the worker between batches, about 7 KB "
        "each; 0 turns the cache off (env STATE_CACHE_ACCOUNTS). See "
        "streams/runtime/state_cache.py.",
    )

    @model_validator(mode="after")
    def _api_token_long_enough(self) -> Settings:
        if self.api_token is not None and len(self.api_token.get_secret_value()) < 16:
            raise ValueError("API_TOKEN: at least 16 characters (e.g. `openssl rand -hex 32`)")
        return self

    @model_validator(mode="after")
    def _lateness_within_the_dedupe_window(self) -> Settings:
        problem = lateness_problem(self.allowed_lateness, self.dedupe_window)
        if problem is not None:
            raise ValueError(f"ALLOWED_LATENESS and DEDUPE_WINDOW: {problem}")
        return self

    @property
    def kafka_broker_url(self) -> str:
        """The bootstrap list in faust's `kafka://host:port;host:port` form."""
        hosts = [h.strip() for h in self.kafka_bootstrap.split(",") if h.strip()]
        return ";".join(f"kafka://{h}" for h in hosts)

    def topic(self, name: str) -> str:
        """The full name of one of the project's topics, e.g. `account-events`."""
        return f"{self.topic_prefix}{name}"

    def redis_endpoint(self) -> tuple[str, int]:
        """Host and port of the Redis URL, for messages and the local stack (no password)."""
        parts = urlsplit(self.redis_url.get_secret_value())
        return parts.hostname or "127.0.0.1", parts.port or 6379

    def kafka_endpoint(self) -> tuple[str, int]:
        """Host and port of the first bootstrap server."""
        first = self.kafka_bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or "127.0.0.1", int(port or 9092)
