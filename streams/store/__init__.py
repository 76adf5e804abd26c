"""Account state in Redis (docs/redis-layout.md).

- `state_store`: `StateStore`, the one object the pipeline and tools use, made of the parts below;
- `partitions`: a partition's fence, applied offsets, outbox and rescored versions;
- `commit`: the fenced batch commit and the packed batch it sends (`CommitBatch`);
- `queries`: reads of records, due accounts, the top of a model's tiers, tier counts;
- `domains`: the domain map (domain -> account);
- `records`: the account record's framing and the buckets (name hashing): the layout;
- `keys`: the name of every key;
- `profiles`: the stored profile's deflated format;
- `scripts` and `lua/`: the Lua scripts, one `.lua` file each;
- `client`: `connect_redis`, the client whose connections pack commands with hiredis.
"""
