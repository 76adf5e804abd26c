-- The batch commit (streams/store/commit.py: `commit_arguments` documents KEYS and ARGV).
-- Fenced: nothing is written unless ARGV[1] is the partition's fence token; with an applied
-- offset, nothing unless it is past the partition's. Returns 1 committed, 0 fenced, -1 already
-- applied.
-- The script names each account's hash, due and ranking buckets itself (as BullMQ's scripts name
-- their keys): every bucket carries the partition's hash tag, so it is in the same Cluster slot.
-- It reads every stored record it merges into and builds every new one before it writes
-- anything: a corrupt record fails the script before its first write (Redis does not undo a
-- script's writes).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
  if tonumber(ARGV[2]) <= current then
    return -1
  end
end
local n_accounts, n_outbox = tonumber(ARGV[3]), tonumber(ARGV[4])
local accounts = ARGV[5]
local shapes = {}
local at = 7
for s = 1, tonumber(ARGV[6]) do
  local names = {}
  for j = 1, tonumber(ARGV[at]) do
    names[j] = ARGV[at + j]
  end
  at = at + #names + 1
  shapes[s] = names
end
local record_shapes = ARGV[at]
at = at + 1
local shape_names = {}
for s, names in ipairs(shapes) do
  shape_names[s] = {}
  for _, name in ipairs(names) do
    shape_names[s][name] = true
  end
end
-- latest: an account's record as merged so far in this batch (an account written twice merges
-- its second write into its first); only that last record is written.
local members, records, latest = {}, {}, {}
for i = 1, n_accounts do
  local account, write = ARGV[at], ARGV[at + 1]
  at = at + 2
  members[i] = account
  local shape = struct.unpack('<H', record_shapes, 2 * i - 1)
  if #shapes[shape] > 0 then
    local stored = latest[account]
    if stored == nil then
      stored = redis.call('HGET', accounts .. account_bucket(account), account)
    end
    records[i] = write
    if stored then
      records[i] = merged_record(stored, shape_names[shape], write)
      if records[i] == nil then
        return redis.error_reply('corrupt account record: ' .. account)
      end
    end
    latest[account] = records[i]
  end
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2])
end
for i = 1, n_accounts do
  if records[i] and latest[members[i]] == records[i] then
    redis.call('HSET', accounts .. account_bucket(members[i]), members[i], records[i])
    latest[members[i]] = nil
  end
end
for i = 1, n_outbox do
  redis.call('RPUSH', KEYS[3], ARGV[at])
  at = at + 1
end
for i = 1, tonumber(ARGV[at]) do
  members[n_accounts + i] = ARGV[at + i]
end
at = at + tonumber(ARGV[at]) + 1
local due_sets, due_members, due_times = ARGV[at], ARGV[at + 1], ARGV[at + 2]
at = at + 3
for e = 1, #due_times / 8 do
  local account = members[struct.unpack('<I4', due_members, 4 * e - 3)]
  local due = struct.unpack('<d', due_times, 8 * e - 7)
  if due ~= due then
    redis.call('ZREM', due_sets .. bucket(account), account)
  else
    redis.call('ZADD', due_sets .. bucket(account), due, account)
  end
end
local n_models = tonumber(ARGV[at])
at = at + 1
for m = 1, n_models do
  local n_tiers = tonumber(ARGV[at])
  local sets = {}  -- by tier index, from 0
  for t = 0, n_tiers - 1 do
    sets[t] = ARGV[at + 1 + t]
  end
  at = at + n_tiers + 1
  local ranked, tiers = ARGV[at], ARGV[at + 1]
  local previous_tiers, totals = ARGV[at + 2], ARGV[at + 3]
  at = at + 4
  for e = 1, #tiers do
    local account = members[struct.unpack('<I4', ranked, 4 * e - 3)]
    local b = bucket(account)
    local tier, previous = string.byte(tiers, e), string.byte(previous_tiers, e)
    if previous == 255 then
      for t = 0, n_tiers - 1 do
        if t ~= tier then
          redis.call('ZREM', sets[t] .. b, account)
        end
      end
    elseif previous ~= tier then
      redis.call('ZREM', sets[previous] .. b, account)
    end
    -- The total rounded down to 1/16 point: a short score in the listpack (~11 B less than a
    -- double's 17 digits), still below the next tier's min, still the order reps care about.
    local total = struct.unpack('<d', totals, 8 * e - 7)
    redis.call('ZADD', sets[tier] .. b, math.floor(total * 16) / 16, account)
  end
end
return 1
