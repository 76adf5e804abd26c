"""`scorer export`: every account's scores from Redis, in the line format of `replay --out`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from scoring.engine import Engine
from scoring.model import Model
from streams.cli.models import load_models_or_exit
from streams.runtime.accounts import Accounts
from streams.runtime.metrics import Metrics
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.state_store import StateStore


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    models = load_models_or_exit(args.models or [str(settings.models_dir)])
    accounts = asyncio.run(export(settings, models, args.out, args.as_of))
    print(f"export: {accounts:,} accounts written to {args.out}", file=sys.stderr)
    return 0


async def export(
    settings: Settings, models: tuple[Model, ...], out: Path, as_of: float | None
) -> int:
    """Writes every account's scores from Redis in `scorer replay --out`'s line format.

    With `as_of`, each account is evaluated (not written back) at the later of `as_of` and its
    clock, cause `decay`, exactly as the replay does. Returns the number of accounts.
    """
    engine = Engine(
        models,
        dedupe_window=settings.dedupe_window,
        allowed_lateness=settings.allowed_lateness,
    )
    client = connect_redis(settings.redis_url.get_secret_value())
    store = StateStore(client, settings.key_prefix)
    accounts = Accounts(engine, store, Metrics())
    lines: list[tuple[str, str, bytes]] = []
    listed: set[tuple[int, str]] = set()
    try:
        cursor = 0
        while True:
            cursor, found = await store.account_ids(cursor, 1000)
            by_partition: dict[int, list[str]] = {}
            for partition, account_id in found:
                if (partition, account_id) not in listed:  # SCAN may return a hash twice
                    listed.add((partition, account_id))
                    by_partition.setdefault(partition, []).append(account_id)
            for partition, account_ids in by_partition.items():
                states = await accounts.load(partition, account_ids)
                for account_id, state in states.items():
                    if as_of is not None:
                        engine.evaluate(state, max(as_of, state.clock), "decay")
                    written = engine.score_lines(state).splitlines(keepends=True)
                    for model, line in zip(engine.models, written, strict=True):
                        lines.append((account_id, model.id, line))
            if cursor == 0:
                break
    finally:
        await client.aclose()
    lines.sort(key=lambda item: (item[0], item[1]))
    with out.open("wb") as handle:
        for _, _, line in lines:
            handle.write(line)
    return len({account_id for account_id, _, _ in lines})
