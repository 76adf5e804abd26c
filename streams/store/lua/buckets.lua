-- The buckets of an account, as streams/store/records.py computes them (`name_hash`,
-- `sorted_set_bucket`, `account_bucket`); the constants come from there (streams/store/scripts.py
-- puts them before this file). An account's hash is computed once per script call.
local function name_hash(name)
  local h = 0
  for i = 1, #name do
    h = (h * NAME_HASH_MULTIPLIER + string.byte(name, i)) % NAME_HASH_MODULUS
  end
  return h
end
local hash_of = {}
local function account_hash(account)
  local found = hash_of[account]
  if found == nil then
    found = name_hash(account)
    hash_of[account] = found
  end
  return found
end
local function bucket(account)
  return account_hash(account) % SORTED_SET_BUCKETS
end
local function account_bucket(account)
  return account_hash(account) % ACCOUNT_BUCKETS
end
