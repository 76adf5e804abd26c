-- The best accounts of some tiers of one model in a partition (streams/store/queries.py: `top`).
-- KEYS: the fence (not read: it routes the call to the partition's Cluster node), the
-- partition's rescored versions. ARGV: limit (at least 1), the versions the ceilings hold for
-- ('' for none), then per tier, highest first: its ranking sets' name without the bucket
-- (`PartitionKeys.ranking_sets`) and its ceiling ('' for none). Returns member, total, member,
-- total... highest total first, ties by member in byte order. It keeps the best `limit` as it
-- goes: past 2 x limit it prunes and reads the next buckets only above the limit-th, so it reads
-- about `limit` entries per set, not the set; and, when the partition is rescored to the
-- versions given, it skips a tier whose ceiling the limit-th reaches.
-- A bucket's reply cut at `limit` may split the members of its last total (Redis orders them
-- backwards here): all of that total's are read.
local limit = tonumber(ARGV[1])
local trusted = ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2]
local best, floor = {}, '-inf'
local function higher(x, y)
  if x[2] ~= y[2] then
    return x[2] > y[2]
  end
  return bytes_before(x[1], y[1])
end
local function prune()
  table.sort(best, higher)
  for i = #best, limit + 1, -1 do
    best[i] = nil
  end
  floor = best[limit][3]
end
for s = 3, #ARGV, 2 do
  local ceiling = ARGV[s + 1]
  if #best >= limit then
    prune()
  end
  local beaten = trusted and ceiling ~= '' and #best >= limit
    and tonumber(floor) >= tonumber(ceiling)
  for b = 0, beaten and -1 or SORTED_SET_BUCKETS - 1 do
    local key = ARGV[s] .. b
    local found = redis.call('ZREVRANGEBYSCORE', key, '+inf', floor, 'WITHSCORES', 'LIMIT', 0,
      limit)
    local last = #found == 2 * limit and found[#found] or nil
    for i = 1, #found, 2 do
      if found[i + 1] ~= last then
        best[#best + 1] = {found[i], tonumber(found[i + 1]), found[i + 1]}
      end
    end
    if last then
      local tied = redis.call('ZRANGEBYSCORE', key, last, last)
      for i = 1, #tied do
        best[#best + 1] = {tied[i], tonumber(last), last}
      end
    end
    if #best >= 2 * limit then
      prune()
    end
  end
end
table.sort(best, higher)
local out = {}
for i = 1, math.min(limit, #best) do
  out[2 * i - 1], out[2 * i] = best[i][1], best[i][3]
end
return out
