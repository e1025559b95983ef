-- Records a node's subscription count of a channel and adds a
-- subscription_count event with the cluster's total to the outbox.
-- KEYS: 1 the channel's counts (node -> count), 2 the node's index, 3 outbox
-- ARGV: 1 node, 2 this node's count, 3 app id, 4 channel, 5 event id
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('HSET', KEYS[2], KEYS[1], 's')
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], KEYS[1])
end
local total = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do
  total = total + tonumber(count)
end
local event = cjson.encode({ name = 'subscription_count', channel = ARGV[4], subscription_count = total })
redis.call('XADD', KEYS[3], '*', 'app', ARGV[3], 'id', ARGV[5], 'event', event)
return total
