-- How many accounts sit in each of some ranking sets of a partition (streams/store/queries.py:
-- `tier_counts`). KEYS: the fence (not read: it routes the call to the partition's Cluster
-- node). ARGV: the ranking sets' names without the bucket. Returns each one's entries over its
-- buckets.
local counts = {}
for s = 1, #ARGV do
  local n = 0
  for b = 0, SORTED_SET_BUCKETS - 1 do
    n = n + redis.call('ZCARD', ARGV[s] .. b)
  end
  counts[s] = n
end
return counts
