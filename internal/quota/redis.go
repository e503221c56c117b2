package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a [Store] in a Redis (or Valkey, or managed Redis) server, or a
// Redis Cluster, shared by every replica of a region. Each admission is one
// Lua script run with EVALSHA (falling back to EVAL when the server lost its
// script cache), so it is atomic and costs one round trip. Time is the
// server's TIME, so replicas with skewed clocks agree. Every key carries a
// TTL and expires on its own.
//
// On a cluster, every key starts with the key prefix in braces, a hash tag:
// all of a store's keys live in one slot, so that each script, which
// touches a caller's limits and a deployment's capacity at once, runs on one
// node and stays atomic (see docs/quotas.md).
//
// It is safe for concurrent use; go-redis reconnects by itself after the
// server returns, and follows a cluster's slots when they move.
type Redis struct {
	client redis.UniversalClient
	// prefix starts every key: the configured key prefix, in braces on a
	// cluster (see keyPrefix).
	prefix string
	// clock, when set (tests only), replaces the server's TIME.
	clock Clock
	// logTo is the go-redis log target of the limiter over this store
	// (redislog.go), set by New; nil before.
	logTo atomic.Pointer[redisLogTarget]
}

var _ Store = (*Redis)(nil)

// DefaultKeyPrefix is the key prefix of the Redis store when the
// configuration sets none.
const DefaultKeyPrefix = "meridian:"

// NewRedis returns a Redis store for cfg: a single server, or with
// cfg.Cluster a Redis Cluster whose URL names one or more of its nodes
// (redis.ParseClusterURL: redis://host:port?addr=host2:port2&addr=...).
// It does not contact the server; use [Redis.Ping] for that. Timeouts not
// set in the URL (dial_timeout, read_timeout, write_timeout query
// parameters) default to 1s, so that a server that is down is noticed
// quickly. A command also ends at its context's deadline (go-redis
// ignores deadlines unless told otherwise), so that settling a reservation
// is bounded even when the URL turns the socket time-outs off
// (read_timeout=-1) and the server stops answering without closing the
// connection.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	prefix := keyPrefix(cfg)
	if cfg.Cluster {
		opt, err := redis.ParseClusterURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("parse quota.redis.url: %w", err)
		}
		dialDefaults(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.DialerRetries)
		noRetries(&opt.MaxRetries)
		opt.ContextTimeoutEnabled = true
		c := redis.NewClusterClient(opt)
		r := &Redis{client: c, prefix: prefix}
		// A cluster client dials nothing itself: each node has a client
		// of its own, made when first needed, with hooks of its own.
		c.OnNewNode(func(n *redis.Client) { n.AddHook(redisLogHook{&r.logTo}) })
		return r, nil
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse quota.redis.url: %w", err)
	}
	dialDefaults(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.DialerRetries)
	noRetries(&opt.MaxRetries)
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	r := &Redis{client: c, prefix: prefix}
	c.AddHook(redisLogHook{&r.logTo})
	return r, nil
}

// noRetries turns go-redis's command retries off unless the URL set
// max_retries. go-redis retries a command whose reply timed out (three
// times by default, with back-off), so a store that hangs (a stopped
// server, a network that drops packets) held each operation for several
// read time-outs instead of one, and a script that did run before its
// reply was lost would run again: a reservation counted twice. The
// limiter has its own retry policy: a failed operation marks the store
// down, one probe a second finds it again, and settlements are retried
// (health.go; flush in reservation.go).
func noRetries(max *int) {
	if *max == 0 {
		*max = -1 // go-redis: -1 is none, 0 its default of 3
	}
}

// dialDefaults fills the timeouts (1s) and dial attempts (1) the URL left
// unset.
func dialDefaults(dial, read, write *time.Duration, retries *int) {
	for _, d := range []*time.Duration{dial, read, write} {
		if *d == 0 {
			*d = time.Second
		}
	}
	if *retries == 0 {
		// The limiter probes a down store once a second; go-redis's own
		// five dial attempts would only make the probing request wait.
		*retries = 1
	}
}

// keyPrefix returns what every key of the store starts with: the key
// prefix (DefaultKeyPrefix if unset), and on a cluster that prefix in
// braces. The braces are a hash tag: a cluster places a key by the text
// between its first "{" and the next "}", so every key of the store hashes
// to the slot of the prefix (which validate keeps free of braces). A
// single server keeps the layout it always had, so that upgrading does not
// restart anyone's counters.
func keyPrefix(cfg RedisConfig) string {
	p := cfg.KeyPrefix
	if p == "" {
		p = DefaultKeyPrefix
	}
	if cfg.Cluster {
		return "{" + p + "}"
	}
	return p
}

func (r *Redis) nowArg() string {
	if r.clock == nil {
		return ""
	}
	return strconv.FormatInt(r.clock.Now().UnixMicro(), 10)
}

// ruleKeys returns the two keys of a rule (see redis_scripts.go).
func (r *Redis) ruleKeys(rule Rule) (string, string) {
	k := r.prefix + "q:" + rule.Key + ":" + rule.Kind.String()
	if rule.Kind == TokensPerMinute {
		return k, k + ":v"
	}
	return k, k
}

// ownerKey is the index of the concurrency keys in which owner holds
// leases (see ReleaseLeases).
func (r *Redis) ownerKey(owner string) string { return r.prefix + "own:" + owner }

// refused reports whether err is the server refusing the command itself
// (a script's runtime error, a key of the wrong type), which would fail
// again if retried, and wraps it with [ErrStoreRefused]. Connection errors,
// time-outs and the server's transient states (LOADING, BUSY, READONLY
// during a failover, OOM, ...) are returned as they are: the store is
// unavailable, not the request wrong.
func refused(err error) error {
	var re redis.Error
	if !errors.As(err, &re) {
		return err // no reply: connection, time-out, context
	}
	for _, p := range transientReplies {
		if redis.HasErrorPrefix(re, p) {
			return err
		}
	}
	if redis.HasErrorPrefix(re, "MOVED") || redis.HasErrorPrefix(re, "ASK") {
		// A single-server client does not follow a cluster's redirects
		// (the cluster client does, and gives up only while slots keep
		// moving): every request whose key lives on another node fails.
		return fmt.Errorf("%w (a Redis Cluster node answered: set quota.redis.cluster: true)", err)
	}
	// CROSSSLOT: a command's keys are in several slots of a cluster, which
	// no retry changes (the key layout keeps them in one; see keyPrefix).
	if strings.Contains(re.Error(), "user_script") || redis.HasErrorPrefix(re, "WRONGTYPE") || redis.HasErrorPrefix(re, "CROSSSLOT") {
		return fmt.Errorf("%w: %w", ErrStoreRefused, err)
	}
	return err
}

// transientReplies are the prefixes of the errors a server replies while
// it cannot serve anyone (loading, busy with a script, a read-only replica
// during a failover, out of memory, ...), also when a script's command got
// them, or when an ACL forbids a command (a misconfiguration every request
// hits). They make the store unavailable rather than refuse one request.
var transientReplies = []string{"LOADING", "BUSY", "READONLY", "MASTERDOWN", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN", "OOM", "NOPERM", "NOAUTH", "WRONGPASS", "MISCONF"}

// Reserve implements [Store].
func (r *Redis) Reserve(ctx context.Context, c Claim) (Outcome, error) {
	if err := c.validate(); err != nil {
		return Outcome{}, err
	}
	keys := make([]string, 0, 2*len(c.Rules)+1)
	args := make([]any, 0, 5+2*len(c.Rules))
	args = append(args, r.nowArg(), c.ID, c.Tokens, c.Lease.Microseconds(), Window.Microseconds())
	leases := false
	for _, rule := range c.Rules {
		k1, k2 := r.ruleKeys(rule)
		keys = append(keys, k1, k2)
		args = append(args, int(rule.Kind), rule.Limit)
		leases = leases || rule.Kind == Concurrency
	}
	if leases && c.Owner != "" {
		keys = append(keys, r.ownerKey(c.Owner)) // last, after every rule's pair
	}
	res, err := scriptReserve.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return Outcome{}, fmt.Errorf("reserve quota: %w", refused(err))
	}
	if len(res) != 1+6*len(c.Rules) {
		return Outcome{}, fmt.Errorf("reserve quota: %w: script returned %d values, want %d", ErrStoreRefused, len(res), 1+6*len(c.Rules))
	}
	out := Outcome{Admitted: res[0] == 1, Rules: make([]RuleState, len(c.Rules)), Windows: make([]int64, len(c.Rules))}
	for i := range c.Rules {
		v := res[1+6*i:]
		out.Rules[i] = RuleState{
			Used:       v[0],
			Reset:      micros(v[1]),
			Rejected:   v[2] == 1,
			RetryAfter: micros(v[3]),
			TooLarge:   v[4] == 1,
		}
		out.Windows[i] = v[5]
	}
	return out, nil
}

// Commit implements [Store].
func (r *Redis) Commit(ctx context.Context, c Claim, windows []int64, actual int64) error {
	if err := r.settle(ctx, "c", c, windows, actual); err != nil {
		return fmt.Errorf("commit quota: %w", err)
	}
	return nil
}

// Release implements [Store].
func (r *Redis) Release(ctx context.Context, c Claim, windows []int64) error {
	if err := r.settle(ctx, "r", c, windows, 0); err != nil {
		return fmt.Errorf("release quota: %w", err)
	}
	return nil
}

func (r *Redis) settle(ctx context.Context, mode string, c Claim, windows []int64, actual int64) error {
	if err := c.validate(); err != nil {
		return err
	}
	if len(windows) != len(c.Rules) {
		return fmt.Errorf("%w: windows do not match the claim's rules", ErrStoreRefused)
	}
	keys := make([]string, 0, 2*len(c.Rules))
	args := make([]any, 0, 4+2*len(c.Rules))
	args = append(args, c.ID, mode, c.Tokens, clampTokens(actual))
	for i, rule := range c.Rules {
		k1, k2 := r.ruleKeys(rule)
		keys = append(keys, k1, k2)
		args = append(args, int(rule.Kind), windows[i])
	}
	return refused(scriptSettle.Run(ctx, r.client, keys, args...).Err())
}

// ReleaseLeases implements [Store]: the owner's index names the
// concurrency keys where it may hold leases; one script frees them there.
func (r *Redis) ReleaseLeases(ctx context.Context, owner, keep string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	idx := r.ownerKey(owner)
	keys, err := r.client.SMembers(ctx, idx).Result()
	if err != nil {
		return 0, fmt.Errorf("release leases of %q: %w", owner, refused(err))
	}
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := scriptRelease.Run(ctx, r.client, append(keys, idx), owner+"/", keep).Int()
	if err != nil {
		return 0, fmt.Errorf("release leases of %q: %w", owner, refused(err))
	}
	return n, nil
}

// SetCooldown implements [Store].
func (r *Redis) SetCooldown(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	err := scriptSetCooldown.Run(ctx, r.client, []string{r.prefix + "cd:" + key}, r.nowArg(), clampDuration(d).Microseconds()).Err()
	if err != nil {
		return fmt.Errorf("set cooldown %q: %w", key, err)
	}
	return nil
}

// Cooldowns implements [Store].
func (r *Redis) Cooldowns(ctx context.Context, keys []string) (map[string]time.Duration, error) {
	out := make(map[string]time.Duration)
	if len(keys) == 0 {
		return out, nil
	}
	rk := make([]string, len(keys))
	for i, k := range keys {
		rk[i] = r.prefix + "cd:" + k
	}
	res, err := scriptCooldowns.Run(ctx, r.client, rk, r.nowArg()).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("read cooldowns: %w", err)
	}
	for i, v := range res {
		if v > 0 && i < len(keys) {
			out[keys[i]] = micros(v)
		}
	}
	return out, nil
}

// SetState implements [Store].
func (r *Redis) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	k := r.prefix + "st:" + key
	var err error
	if value == "" || ttl <= 0 {
		err = r.client.Del(ctx, k).Err()
	} else {
		err = scriptSetState.Run(ctx, r.client, []string{k}, r.nowArg(), clampDuration(ttl).Microseconds(), value).Err()
	}
	if err != nil {
		return fmt.Errorf("set state %q: %w", key, err)
	}
	return nil
}

// States implements [Store].
func (r *Redis) States(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string)
	if len(keys) == 0 {
		return out, nil
	}
	rk := make([]string, len(keys))
	for i, k := range keys {
		rk[i] = r.prefix + "st:" + k
	}
	res, err := scriptStates.Run(ctx, r.client, rk, r.nowArg()).Slice()
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	for i, v := range res {
		if s, ok := v.(string); ok && i < len(keys) {
			out[keys[i]] = s
		}
	}
	return out, nil
}

// PutRecords implements [Store]: one hash per record set, without expiry.
func (r *Redis) PutRecords(ctx context.Context, name string, fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	if err := r.client.HSet(ctx, r.prefix+"rec:"+name, fields).Err(); err != nil {
		return fmt.Errorf("put records %q: %w", name, err)
	}
	return nil
}

// Records implements [Store].
func (r *Redis) Records(ctx context.Context, name string) (map[string]string, error) {
	out, err := r.client.HGetAll(ctx, r.prefix+"rec:"+name).Result()
	if err != nil {
		return nil, fmt.Errorf("read records %q: %w", name, err)
	}
	return out, nil
}

// Ping implements [Store]. On a cluster it asks the node that holds the
// store's slot (a keyless PING would reach any node, and readiness would
// follow a node the store does not use).
func (r *Redis) Ping(ctx context.Context) error {
	var err error
	if _, ok := r.client.(*redis.ClusterClient); ok {
		err = scriptPing.Run(ctx, r.client, []string{r.prefix + "ping"}).Err()
	} else {
		err = r.client.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Close implements [Store]; it closes the connection pool.
func (r *Redis) Close() error { return r.client.Close() }
