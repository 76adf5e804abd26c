-- The account record, as streams/store/records.py frames it (`pack_record`, `split_record`);
-- the entry-name bytes come from there (streams/store/scripts.py puts them before this file).
-- `merged_record`: the entries of a stored record that the set `names` does not name, in order,
-- then `written` (entries already in record form); nil when the stored record is cut short or
-- holds a name no version writes. It walks the entries without copying them: the kept ones are
-- copied as runs.
local function merged_record(stored, names, written)
  local parts, run, at, size = {}, nil, 1, #stored
  while at <= size do
    local from = at
    local tag, b1, b2, b3, b4, b5, b6, b7 = string.byte(stored, at, at + 7)
    local name
    local length
    if tag == MODEL_ENTRY then
      name, at, b1, b2, b3 = string.sub(stored, at, at + 4), at + 5, b5, b6, b7
    elseif tag == META_ENTRY or tag == PROFILE_ENTRY then
      name, at = string.char(tag), at + 1
    else
      return nil
    end
    if b1 == nil then
      return nil
    elseif b1 < 128 then
      length, at = b1, at + 1
    elseif b2 ~= nil and b2 < 128 then
      length, at = b1 - 128 + b2 * 128, at + 2
    else
      -- 3 bytes or more (16 KB or more): the general loop
      length = 0
      local scale, byte = 1, 128
      while byte >= 128 do
        byte = string.byte(stored, at)
        if byte == nil then
          return nil
        end
        length, scale, at = length + (byte % 128) * scale, scale * 128, at + 1
      end
    end
    at = at + length
    if at - 1 > size then
      return nil
    end
    if names[name] then
      if run then
        parts[#parts + 1] = string.sub(stored, run, from - 1)
        run = nil
      end
    elseif not run then
      run = from
    end
  end
  if run then
    parts[#parts + 1] = string.sub(stored, run, size)
  end
  parts[#parts + 1] = written
  return table.concat(parts)
end
