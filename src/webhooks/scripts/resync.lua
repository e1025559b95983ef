-- After the link to Redis failed (facts may be lost, or Redis restarted
-- empty): makes the sets this node is in match what it holds now, emitting
-- the transitions that differ.
-- KEYS: 1 the node's index, 2 outbox
-- ARGV: 1 node, 2 id prefix, then groups of 4: set key, app id,
--       event if the set becomes non-empty, event that undoes it
local held = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do held[entries[i]] = entries[i + 1] end
local emitted = 0
local function emit(app, event)
  emitted = emitted + 1
  redis.call('XADD', KEYS[2], '*', 'app', app, 'id', ARGV[2] .. '-' .. emitted, 'event', event)
end
local wanted = {}
for i = 3, #ARGV, 4 do
  local key, app, join, undo = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  wanted[key] = true
  if redis.call('SADD', key, ARGV[1]) == 1 and redis.call('SCARD', key) == 1 then
    emit(app, join)
  end
  redis.call('HSET', KEYS[1], key, 'x\n' .. app .. '\n' .. undo)
end
for key, undo in pairs(held) do
  if undo ~= 's' and not wanted[key] then
    redis.call('HDEL', KEYS[1], key)
    if redis.call('SREM', key, ARGV[1]) == 1 and redis.call('SCARD', key) == 0 then
      local cut = string.find(undo, '\n', 3, true)
      emit(string.sub(undo, 3, cut - 1), string.sub(undo, cut + 1))
    end
  end
end
return emitted
