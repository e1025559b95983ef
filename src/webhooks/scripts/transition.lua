-- A node joins (+) or leaves (-) the set of nodes where a channel is
-- occupied, or where a user is on a presence channel. Only the change that
-- makes the set non-empty or empty is a cluster-level transition; its
-- event is added to the outbox in the same atomic step.
-- KEYS: 1 the set, 2 the node's index (set key -> how to undo), 3 outbox
-- ARGV: 1 node, 2 '+' or '-', 3 app id, 4 event to emit on a transition,
--       5 event that undoes the join (kept for the reaper), 6 event id
if ARGV[2] == '+' then
  if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
    redis.call('HSET', KEYS[2], KEYS[1], 'x\n' .. ARGV[3] .. '\n' .. ARGV[5])
    if redis.call('SCARD', KEYS[1]) == 1 then
      redis.call('XADD', KEYS[3], '*', 'app', ARGV[3], 'id', ARGV[6], 'event', ARGV[4])
      return 1
    end
  end
  return 0
end
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], KEYS[1])
  if redis.call('SCARD', KEYS[1]) == 0 then
    redis.call('XADD', KEYS[3], '*', 'app', ARGV[3], 'id', ARGV[6], 'event', ARGV[4])
    return 1
  end
end
return 0
