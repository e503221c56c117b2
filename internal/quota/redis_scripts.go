package quota

import "github.com/redis/go-redis/v9"

// The Lua scripts of the Redis store. Each runs atomically on the server, so
// every replica sees one order of admissions. Time comes from the server's
// TIME unless ARGV[1] carries a time (tests with a fake clock). Times and
// durations are microseconds. Every rule is given two keys: the counter and,
// for tokens per minute, the hash of reserved tokens per reservation (other
// kinds repeat the first key). The logic mirrors memory.go step for step;
// the shared suite checks that they agree.
//
// A script touches only the keys it is given in KEYS, never a key name it
// builds or reads (the lease index's members come back as KEYS of the
// release script): a Redis Cluster routes a script by its keys, which the
// key layout keeps in one slot (keyPrefix in redis.go;
// TestRedisClusterKeySlots checks every command).
//
// Kinds: 1 rpm, 2 tpm, 3 concurrency, 4 tokens per day, 5 tokens per month.
//
// Lua numbers are doubles, exact up to 2^53. The Go side hands the scripts
// tokens within 0..2^40 (MaxRequestTokens) and limits within 1..2^52
// (maxCount), and the scripts clamp again, so every sum below stays exact;
// counters move by bump, which saturates at 2^52 and never goes negative,
// instead of HINCRBY, which errors (and failed every retry) on overflow.

const luaCommon = `
-- num formats an integer for a command; never "-0", which Redis rejects.
local function num(x)
  if x == 0 then return '0' end
  return string.format('%.0f', x)
end
local floor = math.floor
local MAXTOKENS = 1099511627776 -- 2^40, MaxRequestTokens
local MAXCOUNT = 4503599627370496 -- 2^52, maxCount

-- clamp returns x within 0..hi (0 for a missing or non-numeric x).
local function clamp(x, hi)
  x = tonumber(x) or 0
  if x ~= x or x < 0 then return 0 end
  if x > hi then return hi end
  return floor(x)
end

-- bump adds d to the counter field f of hash k, within 0..MAXCOUNT, and
-- returns the new value.
local function bump(k, f, d)
  local v = clamp((tonumber(redis.call('HGET', k, f)) or 0) + d, MAXCOUNT)
  redis.call('HSET', k, f, num(v))
  return v
end

local function clock(arg)
  local now = tonumber(arg)
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return now
end
`

const luaReserve = luaCommon + `
local now = clock(ARGV[1])
local id = ARGV[2]
local tokens = clamp(ARGV[3], MAXTOKENS)
local lease = tonumber(ARGV[4])
local win = tonumber(ARGV[5])
local n = (#ARGV - 5) / 2
local DAY = 86400000000
-- An extra last key is the owner's index of the concurrency keys it holds
-- leases in (Claim.Owner), for ReleaseLeases after a restart.
local owner = nil
if #KEYS > 2 * n then owner = KEYS[#KEYS] end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m + 9
  if m > 2 then mp = m - 3 end
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  if m <= 2 then y = y + 1 end
  return y, m
end

-- calendar returns the window number and end of a day (4) or month (5) rule.
local function calendar(kind)
  local day = floor(now / DAY)
  if kind == 4 then return day, (day + 1) * DAY end
  local y, m = civil_from_days(day)
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  return y * 12 + m - 1, days_from_civil(ny, nm, 1) * DAY
end

local function newest(z)
  local e = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if #e == 0 then return nil end
  return tonumber(e[2])
end

-- trim_tokens drops the reservations that left the window and their tokens.
local function trim_tokens(z, h)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', num(now - win))
  if #old == 0 then return end
  local freed = 0
  for i = 1, #old, 500 do
    local j = math.min(i + 499, #old)
    local vals = redis.call('HMGET', h, unpack(old, i, j))
    for k = 1, #vals do freed = freed + (tonumber(vals[k]) or 0) end
    redis.call('HDEL', h, unpack(old, i, j))
  end
  bump(h, '_sum', -freed)
  redis.call('ZREMRANGEBYSCORE', z, '-inf', num(now - win))
end

-- A reservation id already recorded by any rule (the script records all
-- rules or none) means this is a re-sent reserve whose first run did record
-- it (a retry after a lost reply): answer as that run did, changing nothing.
-- Day/month rules record the id as the hash field 'r:'..id (its reserved
-- tokens), which settle reads and deletes.
local again = false
for r = 0, n - 1 do
  local kind = tonumber(ARGV[6 + 2 * r])
  local k1, k2 = KEYS[1 + 2 * r], KEYS[2 + 2 * r]
  if kind == 1 or kind == 3 then
    again = again or redis.call('ZSCORE', k1, id) ~= false
  elseif kind == 2 then
    again = again or redis.call('HEXISTS', k2, id) == 1
  else
    again = again or redis.call('HEXISTS', k1, 'r:' .. id) == 1
  end
end

local out = {1}
local windows = {}
for r = 0, n - 1 do
  local kind = tonumber(ARGV[6 + 2 * r])
  local limit = clamp(ARGV[7 + 2 * r], MAXCOUNT)
  local k1, k2 = KEYS[1 + 2 * r], KEYS[2 + 2 * r]
  local used, reset, rejected, retry, toolarge, window = 0, 0, 0, 0, 0, 0
  if kind == 1 then
    redis.call('ZREMRANGEBYSCORE', k1, '-inf', num(now - win))
    used = redis.call('ZCARD', k1)
    if used > 0 then reset = newest(k1) + win - now end
    if used + 1 > limit then
      rejected = 1
      local e = redis.call('ZRANGE', k1, used - limit, used - limit, 'WITHSCORES')
      retry = tonumber(e[2]) + win - now
    end
  elseif kind == 2 then
    trim_tokens(k1, k2)
    used = clamp(redis.call('HGET', k2, '_sum'), MAXCOUNT)
    local nw = newest(k1)
    if nw then reset = nw + win - now end
    if used + tokens > limit then
      rejected = 1
      if tokens > limit then
        toolarge = 1
        retry = win
      else
        local freed, start = 0, 0
        while retry == 0 do
          local es = redis.call('ZRANGE', k1, start, start + 99, 'WITHSCORES')
          if #es == 0 then break end
          local ids = {}
          for i = 1, #es, 2 do ids[#ids + 1] = es[i] end
          local vals = redis.call('HMGET', k2, unpack(ids))
          for i = 1, #ids do
            freed = freed + (tonumber(vals[i]) or 0)
            if used - freed + tokens <= limit then
              retry = tonumber(es[2 * i]) + win - now
              break
            end
          end
          start = start + 100
        end
        if retry <= 0 then retry = win end
      end
    end
  elseif kind == 3 then
    redis.call('ZREMRANGEBYSCORE', k1, '-inf', num(now))
    used = redis.call('ZCARD', k1)
    if used + 1 > limit then
      rejected = 1
      retry = 250000 -- concurrencyRetry
    end
  else
    local wend
    window, wend = calendar(kind)
    local h = redis.call('HMGET', k1, 'w', 'n')
    if tonumber(h[1]) == window then used = clamp(h[2], MAXCOUNT) end
    if used > 0 then reset = wend - now end
    if used + tokens > limit then
      rejected = 1
      retry = wend - now
      if tokens > limit then toolarge = 1 end
    end
  end
  -- used already counts this reservation, as the first run reported it
  if again then rejected, retry, toolarge = 0, 0, 0 end
  if rejected == 1 then out[1] = 0 end
  windows[r] = window
  out[#out + 1] = used
  out[#out + 1] = reset
  out[#out + 1] = rejected
  out[#out + 1] = retry
  out[#out + 1] = toolarge
  out[#out + 1] = window
end
if out[1] == 0 then return out end
if again then return out end

local winms = floor(win / 1000) + 1000
for r = 0, n - 1 do
  local kind = tonumber(ARGV[6 + 2 * r])
  local k1, k2 = KEYS[1 + 2 * r], KEYS[2 + 2 * r]
  local o = 2 + 6 * r
  if kind == 1 then
    redis.call('ZADD', k1, num(now), id)
    redis.call('PEXPIRE', k1, winms)
    out[o] = out[o] + 1
    out[o + 1] = newest(k1) + win - now
  elseif kind == 2 then
    redis.call('ZADD', k1, num(now), id)
    redis.call('HSET', k2, id, num(tokens))
    out[o] = bump(k2, '_sum', tokens)
    redis.call('PEXPIRE', k1, winms)
    redis.call('PEXPIRE', k2, winms)
    out[o + 1] = newest(k1) + win - now
  elseif kind == 3 then
    redis.call('ZADD', k1, num(now + lease), id)
    redis.call('PEXPIRE', k1, floor(lease / 1000) + 1000)
    out[o] = out[o] + 1
    if owner then
      redis.call('SADD', owner, k1)
      redis.call('PEXPIRE', owner, floor(lease / 1000) + 1000)
    end
  else
    local window, wend = calendar(kind)
    local w = tonumber(redis.call('HGET', k1, 'w'))
    if w == window then
      out[o] = bump(k1, 'n', tokens)
    else
      -- a new window: the last one's per-id records go with its counter
      redis.call('DEL', k1)
      redis.call('HSET', k1, 'w', num(window), 'n', num(tokens))
      out[o] = tokens
    end
    redis.call('HSET', k1, 'r:' .. id, num(tokens))
    redis.call('PEXPIRE', k1, floor((wend - now) / 1000) + 3600000)
    if out[o] > 0 then out[o + 1] = wend - now end
  end
end
return out
`

// luaSettle commits (ARGV[2] == "c") or releases ("r") a reservation.
const luaSettle = luaCommon + `
local id = ARGV[1]
local release = ARGV[2] == 'r'
local reserved = clamp(ARGV[3], MAXTOKENS)
local actual = clamp(ARGV[4], MAXTOKENS)
local n = (#ARGV - 4) / 2
for r = 0, n - 1 do
  local kind = tonumber(ARGV[5 + 2 * r])
  local window = tonumber(ARGV[6 + 2 * r])
  local k1, k2 = KEYS[1 + 2 * r], KEYS[2 + 2 * r]
  if kind == 1 then
    if release then redis.call('ZREM', k1, id) end
  elseif kind == 2 then
    local v = tonumber(redis.call('HGET', k2, id))
    if v then
      if release then
        redis.call('ZREM', k1, id)
        redis.call('HDEL', k2, id)
        bump(k2, '_sum', -v)
      else
        redis.call('HSET', k2, id, num(actual))
        bump(k2, '_sum', actual - v)
      end
    end
  elseif kind == 3 then
    redis.call('ZREM', k1, id)
  else
    -- Only a reservation still recorded in this window's hash is settled
    -- (a repeated settle finds none and changes nothing), by the tokens it
    -- recorded; the records are deleted after the loop, so a second rule
    -- on the same counter settles it too, as reserve counted it twice.
    local v = tonumber(redis.call('HGET', k1, 'r:' .. id))
    if v then
      local d = actual - v
      if release then d = -v end
      bump(k1, 'n', d)
    end
  end
end
for r = 0, n - 1 do
  if tonumber(ARGV[5 + 2 * r]) >= 4 then redis.call('HDEL', KEYS[1 + 2 * r], 'r:' .. id) end
end
return 1
`

// luaReleaseLeases frees, in the concurrency keys KEYS[1..#KEYS-1] listed
// by the owner's index KEYS[#KEYS], the leases whose reservation id starts
// with ARGV[1] (the owner's prefix) but not with ARGV[2] (its current
// incarnation), and forgets the keys where the owner holds nothing more.
const luaReleaseLeases = `
local owner, keep = ARGV[1], ARGV[2]
local idx = KEYS[#KEYS]
local freed = 0
local function starts(s, p) return string.sub(s, 1, #p) == p end
for i = 1, #KEYS - 1 do
  local mine = 0
  for _, id in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    if starts(id, owner) then
      if keep ~= '' and starts(id, keep) then
        mine = mine + 1
      else
        redis.call('ZREM', KEYS[i], id)
        freed = freed + 1
      end
    end
  end
  if mine == 0 then redis.call('SREM', idx, KEYS[i]) end
end
return freed
`

// luaSetCooldown keeps the later of the current and the new cooldown end.
const luaSetCooldown = luaCommon + `
local now = clock(ARGV[1])
local d = tonumber(ARGV[2])
local till = now + d
local cur = tonumber(redis.call('GET', KEYS[1]))
if (not cur) or cur < till then
  redis.call('SET', KEYS[1], num(till), 'PX', floor(d / 1000) + 1000)
end
return 1
`

// luaCooldowns returns the remaining cooldown of each key (0: none).
const luaCooldowns = luaCommon + `
local now = clock(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local v = tonumber(redis.call('GET', KEYS[i]))
  if v and v > now then out[i] = v - now else out[i] = 0 end
end
return out
`

// luaSetState stores "until|value" under KEYS[1].
const luaSetState = luaCommon + `
local now = clock(ARGV[1])
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], num(now + ttl) .. '|' .. ARGV[3], 'PX', floor(ttl / 1000) + 1000)
return 1
`

// luaStates returns the value of each key, or false when unset or expired.
const luaStates = luaCommon + `
local now = clock(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  out[i] = false
  if v then
    local p = string.find(v, '|', 1, true)
    if p and tonumber(string.sub(v, 1, p - 1)) > now then out[i] = string.sub(v, p + 1) end
  end
end
return out
`

// luaPing answers from the node that holds KEYS[1] (a cluster routes the
// script there), without touching the key.
const luaPing = `return 1`

var (
	scriptPing        = redis.NewScript(luaPing)
	scriptReserve     = redis.NewScript(luaReserve)
	scriptSettle      = redis.NewScript(luaSettle)
	scriptRelease     = redis.NewScript(luaReleaseLeases)
	scriptSetCooldown = redis.NewScript(luaSetCooldown)
	scriptCooldowns   = redis.NewScript(luaCooldowns)
	scriptSetState    = redis.NewScript(luaSetState)
	scriptStates      = redis.NewScript(luaStates)
)
