"""The domain map: which account a web domain belongs to, as the accounts' profiles name them.

A lookup only (profiles are the truth): it is written before the commit of the profile that
names a domain, so a crash in between leaves the map ahead of the state, which is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.typing import EncodableT, FieldT

from streams.store.base import StoreBase, text
from streams.store.keys import domain_hash


class DomainMap(StoreBase):
    """The domain map of `StateStore`."""

    async def resolve_domains(self, domains: Sequence[str]) -> dict[str, str]:
        """Account ids of the given domains, for those a profile has named (one round trip)."""
        if not domains:
            return {}
        by_hash: dict[str, list[str]] = {}
        for domain in dict.fromkeys(domains):
            by_hash.setdefault(self.domain_bucket(domain), []).append(domain)
        async with self.client.pipeline(transaction=False) as pipe:
            for key, names in by_hash.items():
                pipe.hmget(key, names)
            replies = await pipe.execute()
        found: dict[str, str] = {}
        for names, values in zip(by_hash.values(), replies, strict=True):
            found.update((d, text(v)) for d, v in zip(names, values, strict=True) if v is not None)
        return found

    async def remember_domains(self, accounts: Mapping[str, str]) -> None:
        """Points each domain at its account (one round trip: one HSET per hash, pipelined, as
        each hash has its own Cluster hash tag)."""
        by_hash: dict[str, dict[FieldT, EncodableT]] = {}
        for domain, account_id in accounts.items():
            by_hash.setdefault(self.domain_bucket(domain), {})[domain] = account_id
        if by_hash:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, mapping in by_hash.items():
                    pipe.hset(key, mapping=mapping)
                await pipe.execute()

    def domain_bucket(self, domain: str) -> str:
        """The hash of the map that holds `domain` (`streams.store.keys.domain_hash`)."""
        return domain_hash(self.prefix, domain)
