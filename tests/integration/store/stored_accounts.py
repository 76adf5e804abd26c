"""Reading back what the Redis state tests (test_state_store_*.py) wrote: every account's record,
split into its entries and keyed by the field names the tests write.
"""

from __future__ import annotations

from streams.store.records import account_bucket, record_name, split_record
from streams.store.state_store import StateStore

# The field names these tests write, by the name their records keep them under.
FIELD_NAMES = {record_name(f): f.encode() for f in ("m", "p", "s:nb", "s:old", "s:new-business")}


async def stored(
    store: StateStore, partition: int, account_ids: list[str]
) -> dict[str, dict[bytes, bytes]]:
    """Every entry of the accounts' records, by field name, as Redis holds them."""
    keys = store.keys(partition)
    out = {}
    for a in account_ids:
        record = await store.client.hget(keys.account_hash(account_bucket(a)), a)
        entries = {} if record is None else split_record(record)
        out[a] = {FIELD_NAMES[name]: value for name, value in entries.items()}
    return out
