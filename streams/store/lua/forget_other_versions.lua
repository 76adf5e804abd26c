-- Forgets the versions a partition was rescored to unless they are these
-- (streams/store/partitions.py: `forget_other_versions`).
-- KEYS: the partition's rescored versions. ARGV: versions. Returns 1 when it forgot them.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
