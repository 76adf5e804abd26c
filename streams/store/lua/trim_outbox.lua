-- Drops the oldest entries of a partition's outbox, fenced like a commit
-- (streams/store/partitions.py: `clear_outbox`).
-- KEYS: fence, outbox. ARGV: token, count. Returns 1, or 0 when fenced.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
return 1
