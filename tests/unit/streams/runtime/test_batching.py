"""When a batch whose BATCH_WITHIN is up goes on gathering (streams/runtime/batching.py); the
batches themselves run against the real Kafka in tests/integration/test_worker_features.py."""

from __future__ import annotations

from streams.runtime.batching import BACKLOG_BATCHES, keeps_gathering


def test_a_batch_goes_on_while_a_large_backlog_waits() -> None:
    assert keeps_gathering(300, max_=1000, waiting=BACKLOG_BATCHES * 1000, seconds_left=0.05)
    assert keeps_gathering(1, max_=1000, waiting=500_000, seconds_left=0.05)


def test_a_steady_load_and_its_short_stalls_are_not_held_back() -> None:
    # At a steady load the fetched messages are taken by the time BATCH_WITHIN is up; a short
    # stall leaves a batch or two, which gathering on would only rebuild.
    assert not keeps_gathering(50, max_=1000, waiting=0, seconds_left=0.05)
    assert not keeps_gathering(300, max_=1000, waiting=2_000, seconds_left=0.05)
    assert not keeps_gathering(
        300, max_=1000, waiting=BACKLOG_BATCHES * 1000 - 1, seconds_left=0.05
    )


def test_a_full_batch_stops() -> None:
    assert not keeps_gathering(1000, max_=1000, waiting=500_000, seconds_left=0.05)


def test_a_batch_stops_when_backlog_within_is_up() -> None:
    assert not keeps_gathering(300, max_=1000, waiting=500_000, seconds_left=0.0)
