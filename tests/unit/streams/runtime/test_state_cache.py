"""The worker's cache of decoded account states: what it hands out and when it forgets."""

from __future__ import annotations

from scoring.state import AccountState
from streams.runtime.state_cache import StateCache


def states(*account_ids: str) -> dict[str, AccountState]:
    return {a: AccountState(a) for a in account_ids}


def test_a_state_kept_under_a_token_is_taken_back_under_the_same_token() -> None:
    cache = StateCache(10)
    kept = states("acme", "beta")
    cache.keep(2, "t1", kept)

    taken = cache.take(2, "t1", ["acme", "gamma"])

    assert taken == {"acme": kept["acme"]}
    assert taken["acme"] is kept["acme"]


def test_taking_removes_the_entry_so_an_uncommitted_batch_leaves_nothing_behind() -> None:
    cache = StateCache(10)
    cache.keep(0, "t1", states("acme"))

    assert set(cache.take(0, "t1", ["acme"])) == {"acme"}
    assert cache.take(0, "t1", ["acme"]) == {}
    assert len(cache) == 0


def test_another_fence_token_or_partition_misses_and_drops_the_stale_entry() -> None:
    cache = StateCache(10)
    cache.keep(1, "lost", states("acme", "beta"))

    assert cache.take(1, "regained", ["acme"]) == {}
    assert cache.take(3, "lost", ["beta"]) == {}
    assert len(cache) == 0


def test_the_least_recently_committed_accounts_are_evicted_beyond_capacity() -> None:
    cache = StateCache(2)
    cache.keep(0, "t", states("a", "b"))
    cache.keep(0, "t", states("c"))

    assert set(cache.take(0, "t", ["a", "b", "c"])) == {"b", "c"}


def test_committing_again_makes_an_account_the_most_recent() -> None:
    cache = StateCache(2)
    cache.keep(0, "t", states("a", "b"))
    cache.keep(0, "t", states("a"))
    cache.keep(0, "t", states("c"))

    assert set(cache.take(0, "t", ["a", "b", "c"])) == {"a", "c"}


def test_a_revoked_partition_is_forgotten_and_the_others_kept() -> None:
    cache = StateCache(10)
    cache.keep(0, "t0", states("a"))
    cache.keep(1, "t1", states("b"))

    cache.drop_partition(0)

    assert cache.take(0, "t0", ["a"]) == {}
    assert set(cache.take(1, "t1", ["b"])) == {"b"}


def test_capacity_zero_turns_the_cache_off() -> None:
    cache = StateCache(0)
    cache.keep(0, "t", states("a"))

    assert len(cache) == 0
    assert cache.take(0, "t", ["a"]) == {}
