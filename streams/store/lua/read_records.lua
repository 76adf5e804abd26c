-- The records of a partition's accounts (streams/store/queries.py: `read_fields`).
-- KEYS: the fence (not read: it routes the call to the partition's Cluster node). ARGV: the
-- account hashes' name without the bucket, then the account ids. Returns each account's record,
-- nil for an account not stored. One reply for the whole batch: redis-py handles a pipelined
-- command per account in Python (command object, reply callback), which cost the worker ~17 µs
-- per account read.
local out = {}
for i = 2, #ARGV do
  out[i - 1] = redis.call('HGET', ARGV[1] .. account_bucket(ARGV[i]), ARGV[i])
end
return out
