-- Accounts of a partition whose next tier drop is due (streams/store/queries.py: `due_accounts`).
-- KEYS: the fence (not read: it routes the call to the partition's Cluster node). ARGV: the due
-- sets' name without the bucket, until, limit (at least 1), the first bucket to read. Returns
-- members due at or before `until`, at most `limit`, bucket by bucket from the first: not the
-- earliest of them (the sweep evaluates every due account at the same time, so their order does
-- not matter), which saves sorting thousands in Lua when many are due.
local sets, latest, limit, first = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i = 0, SORTED_SET_BUCKETS - 1 do
  local b = (first + i) % SORTED_SET_BUCKETS
  local found = redis.call('ZRANGEBYSCORE', sets .. b, '-inf', latest, 'LIMIT', 0, limit - #out)
  for j = 1, #found do
    out[#out + 1] = found[j]
  end
  if #out >= limit then
    break
  end
end
return out
