-- The heartbeat: records this node as alive, then removes every node
-- silent for longer than the timeout from each set it was in, emitting
-- the vacated/removed events of the sets that become empty. Atomic, so
-- whichever node runs it first does the work once.
-- KEYS: 1 live nodes (node -> last heartbeat ms), 2 outbox
-- ARGV: 1 this node, 2 timeout ms, 3 prefix of node indexes, 4 id prefix
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
local silent = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local emitted = 0
for _, node in ipairs(silent) do
  if node ~= ARGV[1] then
    local index = ARGV[3] .. node
    local held = redis.call('HGETALL', index)
    for i = 1, #held, 2 do
      local key, undo = held[i], held[i + 1]
      if undo == 's' then
        redis.call('HDEL', key, node)
      elseif redis.call('SREM', key, node) == 1 and redis.call('SCARD', key) == 0 then
        local cut = string.find(undo, '\n', 3, true)
        emitted = emitted + 1
        redis.call('XADD', KEYS[2], '*', 'app', string.sub(undo, 3, cut - 1),
          'id', ARGV[4] .. '-' .. emitted, 'event', string.sub(undo, cut + 1))
      end
    end
    redis.call('DEL', index)
    redis.call('ZREM', KEYS[1], node)
  end
end
return emitted
