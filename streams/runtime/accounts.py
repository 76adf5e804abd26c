"""The accounts as the store holds them: their fields read into the engine's states, and the
commit batches that write states back (fields, ranks and due times)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from scoring.decode import stored_profile
from scoring.engine import Engine
from scoring.state import AccountState, StateDecodeError
from streams.runtime.metrics import Metrics
from streams.store.commit import (
    UNKNOWN_TIER,
    AccountWrite,
    CommitBatch,
    Rank,
    Ranking,
    WrittenGroup,
)
from streams.store.profiles import pack_profile, unpack_profile
from streams.store.records import (
    META_FIELD,
    MODEL_FIELD_PREFIX,
    PROFILE_FIELD,
    check_record_names,
    pack_account_record,
)
from streams.store.state_store import StateStore

LoadedTiers = Mapping[str, bytes]
"""account -> its tier under each model when loaded (`Engine.tier_indexes`: a byte per model in
load order, `UNKNOWN_TIER` unknown): the ranking set that holds the account now."""


class Accounts:
    """Reads accounts of the engine's models from the store and packs the batches that write
    them. Holds no state of its own beyond the models' field names."""

    def __init__(self, engine: Engine, store: StateStore, metrics: Metrics) -> None:
        self.engine = engine
        self.store = store
        self.metrics = metrics
        self.models = {model.id: model for model in engine.models}
        self.tier_names = {
            model.id: tuple(tier.name for tier in model.tiers) for model in engine.models
        }
        check_record_names(list(self.models))
        self._model_fields = {model: MODEL_FIELD_PREFIX + model for model in self.models}
        self._model_index = {model: index for index, model in enumerate(self.models)}
        # The fields of an account written whole, in the order its record holds them.
        self._whole_fields = (META_FIELD, *self._model_fields.values())
        # What `load` reads of an account: blobs of models not loaded are of no use.
        self._stored_fields = (META_FIELD, PROFILE_FIELD, *self._model_fields.values())

    async def load(self, partition: int, account_ids: Sequence[str]) -> dict[str, AccountState]:
        """The accounts' states from Redis (one round trip); unknown accounts start empty."""
        started = time.perf_counter()
        stored = await self.store.read_fields(partition, account_ids, self._stored_fields)
        self.metrics.redis_seconds.labels("read").observe(time.perf_counter() - started)
        states = {}
        for account_id, (meta, raw_profile, *blobs) in zip(account_ids, stored, strict=True):
            profile = None
            if raw_profile is not None:
                profile = stored_profile(unpack_profile(raw_profile, account_id))
                if profile is None:
                    # Read as no profile, the account would be scored without it.
                    raise StateDecodeError(f"the stored profile of {account_id!r} is no profile")
            states[account_id] = self.engine.restore(
                account_id, meta, dict(zip(self.models, blobs, strict=True)), profile
            )
        return states

    def dump(self, state: AccountState, profile_raw: bytes | None = None) -> AccountWrite:
        """The account's fields to write: its meta and every model's state, and its profile when
        given."""
        meta, blobs = self.engine.dump(state)
        fields = {META_FIELD: meta}
        fields.update({self._model_fields[model]: blob for model, blob in blobs.items()})
        if profile_raw is not None:
            fields[PROFILE_FIELD] = pack_profile(profile_raw, state.account_id)
        return AccountWrite(state.account_id, fields)

    def rank(self, state: AccountState, model_id: str, previous_tier: str | None) -> Rank:
        """The account's place in the model's ranking: its tier and total of the latest
        evaluation, which every batch does at the clock before it commits."""
        tier, total = self.engine.standing(state, model_id)
        return Rank(
            state.account_id, model_id, self.tier_names[model_id], tier, total, previous_tier
        )

    def due_time(self, state: AccountState) -> float | None:
        """When the decay sweep must next look at the account (its earliest tier drop)."""
        times = [
            t
            for model in self.engine.models
            if (t := self.engine.next_tier_change_time(state, model.id)) is not None
        ]
        return min(times) if times else None

    def loaded_tier(self, loaded: LoadedTiers, account_id: str, model_id: str) -> str | None:
        """The account's tier under the model when it was loaded; None if unknown."""
        indexes = loaded.get(account_id)
        if indexes is None:
            return None
        index = indexes[self._model_index[model_id]]
        return None if index == UNKNOWN_TIER else self.tier_names[model_id][index]

    def packed(
        self,
        states: Mapping[str, AccountState],
        loaded: LoadedTiers,
        only: Mapping[str, Sequence[str]] | None,
    ) -> CommitBatch:
        """The commit of accounts written without a profile: each whole (`only` None: events,
        the decay sweep) or only some models' states (rescoring). Dumped, ranked and scheduled
        by the core in one call per set of models written alike."""
        groups: dict[tuple[str, ...] | None, list[str]] = {}
        if only is None:
            groups[None] = list(states)
        else:
            for account_id, written_models in only.items():
                groups.setdefault(tuple(written_models), []).append(account_id)
        return CommitBatch.of_groups(
            [
                self.written_group([states[a] for a in account_ids], account_ids, models, loaded)
                for models, account_ids in groups.items()
            ]
        )

    def written_group(
        self,
        states: Sequence[AccountState],
        account_ids: Sequence[str],
        models: tuple[str, ...] | None,
        loaded: LoadedTiers,
    ) -> WrittenGroup:
        """Accounts written alike (whole when `models` is None, else those models' states), as
        `Engine.dump_many` dumps them, each framed into its record: the one consumer of its
        output."""
        dumped = self.engine.dump_many(list(states), models)
        names = tuple(self.models) if models is None else models
        metas = dumped.metas or [None] * len(account_ids)
        records = [
            pack_account_record(meta, zip(names, blobs, strict=True))
            for meta, blobs in zip(metas, dumped.blobs, strict=True)
        ]
        unknown = bytes([UNKNOWN_TIER]) * len(self.models)
        # A byte per account and model, account by account: model m's are every n-th from m.
        tiers = b"".join([loaded.get(a, unknown) for a in account_ids])
        rankings = [
            Ranking(
                model_id,
                self.tier_names[model_id],
                dumped.tiers[column],
                tiers[self._model_index[model_id] :: len(self.models)],
                dumped.totals[column],
            )
            for column, model_id in enumerate(names)
        ]
        fields = (
            self._whole_fields if models is None else tuple(self._model_fields[m] for m in models)
        )
        return WrittenGroup(account_ids, fields, records, dumped.due_times, rankings)

    def packed_with_profiles(
        self,
        states: Mapping[str, AccountState],
        raw_profiles: Mapping[str, bytes],
        loaded: LoadedTiers,
    ) -> CommitBatch:
        """The commit of accounts written whole, with their profiles (profile batches)."""
        writes = [self.dump(state, raw_profiles.get(a)) for a, state in states.items()]
        due = {a: self.due_time(state) for a, state in states.items()}
        ranks = [
            self.rank(state, model_id, self.loaded_tier(loaded, account_id, model_id))
            for account_id, state in states.items()
            for model_id in self.models
        ]
        return CommitBatch.of(writes, due, ranks)
