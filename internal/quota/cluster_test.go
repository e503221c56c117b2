package quota

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/testenv"
)

// redisCluster is a three-master Redis Cluster that a test started on
// loopback: three redis-server processes in cluster mode, joined by
// redis-cli --cluster create, without persistence or replicas.
type redisCluster struct {
	nodes []*redisServer
}

// startRedisCluster starts a cluster of t's own (for a test that stops its
// nodes) and waits until every node reports it healthy, or skips t when
// redis-server or redis-cli is missing (fails under
// MERIDIAN_INTEGRATION=required). The processes are killed when t ends.
func startRedisCluster(t testing.TB) *redisCluster {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "valkey-server")
	cli := testenv.LookPath(t, "redis-cli", "valkey-cli")
	c, err := newRedisCluster(bin, cli, t.TempDir())
	t.Cleanup(c.stop)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.nodes {
		s.t = t
	}
	return c
}

// shared is the cluster of the tests that only use their own key prefix:
// the first of them starts it, TestMain stops it after the last.
var shared struct {
	once sync.Once
	c    *redisCluster
	dir  string
	err  error
}

// sharedRedisCluster returns the shared cluster, started by the first
// caller and emptied for every later one, as a fresh server would be (the
// tests that use it do not run in parallel; with -count=2 a test meets its
// own keys again otherwise). It skips t like startRedisCluster.
func sharedRedisCluster(t testing.TB) *redisCluster {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "valkey-server")
	cli := testenv.LookPath(t, "redis-cli", "valkey-cli")
	fresh := false
	shared.once.Do(func() {
		fresh = true
		shared.dir, shared.err = os.MkdirTemp("", "meridian-quota-cluster-")
		if shared.err == nil {
			shared.c, shared.err = newRedisCluster(bin, cli, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("shared redis cluster: %v", shared.err)
	}
	if !fresh {
		for _, s := range shared.c.nodes {
			rc := redis.NewClient(&redis.Options{Addr: s.addr(), DialerRetries: 1})
			err := rc.FlushAll(context.Background()).Err()
			rc.Close()
			if err != nil {
				t.Fatalf("empty the shared redis cluster: %v", err)
			}
		}
	}
	return shared.c
}

func stopSharedCluster() {
	if shared.c != nil {
		shared.c.stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// newRedisCluster starts three redis-server processes in cluster mode with
// their files under dir, joins them with redis-cli --cluster create, and
// waits until every node reports the cluster healthy. On an error, the
// processes it started are still to be stopped (stop).
func newRedisCluster(bin, cli, dir string) (*redisCluster, error) {
	c := &redisCluster{}
	for i := range 3 {
		ports, err := freePorts(2)
		if err != nil {
			return c, err
		}
		d := filepath.Join(dir, fmt.Sprint("node", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return c, err
		}
		s := &redisServer{bin: bin, dir: d, port: ports[0], extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(d, fmt.Sprintf("nodes-%d.conf", ports[0])),
			// The bus port is set, not port+10000, which may be taken or
			// beyond 65535 for an ephemeral port.
			"--cluster-port", fmt.Sprint(ports[1]),
		}}
		c.nodes = append(c.nodes, s)
		if err := s.run(); err != nil {
			return c, err
		}
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.nodes {
		args = append(args, s.addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("%s %s: %v\n%s", cli, strings.Join(args, " "), err, out)
	}
	// Every node must agree before use: all slots served, three nodes
	// known. redis-cli returns once the nodes have joined, which can be
	// before each has heard of every slot's owner.
	for _, s := range c.nodes {
		rc := redis.NewClient(&redis.Options{Addr: s.addr(), DialerRetries: 1})
		err := waitFor("cluster_state:ok on "+s.addr(), func() bool {
			info, err := rc.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_slots_ok:16384") && strings.Contains(info, "cluster_known_nodes:3")
		})
		rc.Close()
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// stop kills every node.
func (c *redisCluster) stop() {
	for _, s := range c.nodes {
		s.stop()
	}
}

// freePorts returns n distinct TCP ports free on loopback now.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// url names the cluster as go-redis's ParseClusterURL reads it: one node
// in the URL, the others as addr parameters.
func (c *redisCluster) url() string {
	u := "redis://" + c.nodes[0].addr()
	for i, s := range c.nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + s.addr()
	}
	if len(c.nodes) == 1 {
		return u + "?" + hangGuardTimeouts
	}
	return u + "&" + hangGuardTimeouts
}

// newClient returns a cluster store on c with prefix; clock, when not nil,
// replaces the server's TIME.
func (c *redisCluster) newClient(t testing.TB, prefix string, clock Clock) *Redis {
	t.Helper()
	r, err := NewRedis(RedisConfig{URL: c.url(), KeyPrefix: prefix, Cluster: true})
	if err != nil {
		t.Fatal(err)
	}
	r.clock = clock
	t.Cleanup(func() { r.Close() })
	if err := r.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRedisClusterStore runs the whole store suite against a real
// three-master Redis Cluster: the same exactness, with every replica a
// separate cluster client. Each subtest has its own key prefix, hence its
// own slot, so the suite spreads over the three masters.
func TestRedisClusterStore(t *testing.T) {
	c := sharedRedisCluster(t)
	start := time.Now()
	runStoreSuite(t, func(t *testing.T, clock Clock) func() Store {
		prefix := "test:" + t.Name() + ":"
		return func() Store { return c.newClient(t, prefix, clock) }
	})
	t.Logf("store suite on the cluster took %v", time.Since(start).Round(time.Millisecond))
}

// TestRedisClusterServerTime: three replicas, 200 concurrent requests and
// a 60 rpm key on the cluster, time from the server's TIME: exactly 60.
func TestRedisClusterServerTime(t *testing.T) {
	c := sharedRedisCluster(t)
	testServerTimeExact(t, func() Store { return c.newClient(t, "srvtime:", nil) })
}

// TestRedisClusterReplicaRestart: a replica's restart frees the slots its
// dead run held, through the lease index, on the cluster.
func TestRedisClusterReplicaRestart(t *testing.T) {
	c := sharedRedisCluster(t)
	testReplicaRestart(t, func() Store { return c.newClient(t, "restart:", nil) }, nil)
}

// TestRedisClusterLayout admits a request touching every kind of key on
// the cluster, with a recorder on the client, and checks on the servers
// themselves that every key the store wrote is in the one slot of its
// prefix (CLUSTER KEYSLOT agrees with keySlot), carries the prefix and a
// TTL, and that the script cache lost on every master is refilled.
func TestRedisClusterLayout(t *testing.T) {
	c := sharedRedisCluster(t)
	s := c.newClient(t, "layout:", nil)
	rec := &keyRecorder{pass: true}
	s.client.AddHook(rec)
	l, err := New(Config{}, s, Options{Logger: testLogger(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.wg.Wait()
	ctx := t.Context()
	req := everyKindOfRequest("alice")
	mustAdmit(t, l, req)
	r := mustAdmit(t, l, req)
	if err := r.Commit(ctx, inference.Usage{OutputTokens: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.client.(*redis.ClusterClient).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, l, req).Release(ctx) // EVAL after NOSCRIPT, on the right node
	s.SetCooldown(ctx, "r/m", time.Minute)
	s.SetState(ctx, "circuit/r", "open", time.Minute)
	if err := s.PutRecords(ctx, "profiles", map[string]string{"p": "{}"}); err != nil {
		t.Fatal(err)
	}
	rec.check(t)

	want := keySlot("{layout:}")
	var mu sync.Mutex
	var keys []string
	err = s.client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		// The cluster is shared: this test's keys, and any that lost
		// their braces.
		ks, err := n.Keys(ctx, "*layout:*").Result()
		if err != nil {
			return err
		}
		for _, k := range ks {
			slot, err := n.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				return err
			}
			ttl, err := n.PTTL(ctx, k).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			keys = append(keys, k)
			if int(slot) != want || keySlot(k) != want {
				t.Errorf("key %q: server slot %d, keySlot %d; want %d, the prefix's", k, slot, keySlot(k), want)
			}
			if !strings.HasPrefix(k, "{layout:}") {
				t.Errorf("key %q lacks the prefix in braces", k)
			}
			if ttl <= 0 && !strings.HasPrefix(k, "{layout:}rec:") {
				t.Errorf("key %q has TTL %v, want one that expires", k, ttl)
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Errorf("found %d keys (%v), want the rules', the lease index and shared state", len(keys), keys)
	}
}

// keySlot is the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag
// (the text between the first "{" and the next "}", if not empty) or of the
// whole key, modulo 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// TestKeySlot pins keySlot to the values of Redis's own documentation and
// CRC16 reference.
func TestKeySlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 % 16384},
		{"somekey", 11058},
		{"foo{hash_tag}", 2515},
		{"{hash_tag}bar", 2515},
		{"{}foo", keySlot("{}foo")}, // an empty tag: the whole key
		{"foo{}{bar}", keySlot("foo{}{bar}")},
	} {
		if got := keySlot(tc.key); got != tc.want {
			t.Errorf("keySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	if keySlot("{}foo") == keySlot("foo") || keySlot("foo{}{bar}") == keySlot("bar") {
		t.Error("an empty hash tag must hash the whole key")
	}
}

// errRecorded ends a command that keyRecorder recorded without sending it.
var errRecorded = errors.New("recorded, not sent")

// keyRecorder is a go-redis hook that records the keys of every command a
// store sends. Unless pass is set it sends nothing: commands fail with
// errRecorded, except SMEMBERS of a lease index, which answers with the
// concurrency keys recorded so far, so that ReleaseLeases reaches its
// script.
type keyRecorder struct {
	pass bool

	mu   sync.Mutex
	cmds []recordedCmd
}

type recordedCmd struct {
	name string
	keys []string
	err  string // a command the recorder does not know
}

func (h *keyRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *keyRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		rc := h.record(cmd)
		if h.pass {
			return next(ctx, cmd)
		}
		if rc.name == "smembers" {
			cmd.(*redis.StringSliceCmd).SetVal(h.leaseKeys())
			return nil
		}
		return errRecorded
	}
}

func (h *keyRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.record(cmd)
		}
		if h.pass {
			return next(ctx, cmds)
		}
		return errRecorded
	}
}

// record notes the keys of cmd. Every command the store sends must be
// known here, so that a new one cannot escape the check.
func (h *keyRecorder) record(cmd redis.Cmder) recordedCmd {
	args := cmd.Args()
	rc := recordedCmd{name: strings.ToLower(fmt.Sprint(args[0]))}
	str := func(a []any) []string {
		out := make([]string, len(a))
		for i, v := range a {
			out[i] = fmt.Sprint(v)
		}
		return out
	}
	switch rc.name {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		var n int
		fmt.Sscan(fmt.Sprint(args[2]), &n)
		rc.keys = str(args[3 : 3+n])
	case "smembers", "del", "hset", "hgetall", "get", "set", "pttl", "keys":
		if rc.name != "keys" {
			rc.keys = str(args[1:2])
		}
	case "ping", "script", "cluster", "command", "hello", "client":
	default:
		rc.err = fmt.Sprintf("command %q: the store never sent it before; add its keys to keyRecorder.record", rc.name)
	}
	h.mu.Lock()
	h.cmds = append(h.cmds, rc)
	h.mu.Unlock()
	return rc
}

func (h *keyRecorder) leaseKeys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.cmds {
		for _, k := range c.keys {
			if strings.HasSuffix(k, ":"+Concurrency.String()) {
				out = append(out, k)
			}
		}
	}
	return out
}

// check fails t unless every recorded command's keys hash to one slot, and
// every key to the same slot (the layout puts a store in one slot).
func (h *keyRecorder) check(t *testing.T) (nkeys int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	store := -1
	for _, c := range h.cmds {
		if c.err != "" {
			t.Error(c.err)
		}
		for _, k := range c.keys {
			nkeys++
			if s := keySlot(k); s != keySlot(c.keys[0]) {
				t.Errorf("%s with %d keys: %q is in slot %d, %q in %d; a cluster refuses it (CROSSSLOT)", c.name, len(c.keys), c.keys[0], keySlot(c.keys[0]), k, s)
				break
			} else if store >= 0 && s != store {
				t.Errorf("%s: key %q is in slot %d, the store's other keys in %d", c.name, k, s, store)
				break
			}
			store = keySlot(k)
		}
	}
	return nkeys
}

// everyKindOfRequest limits principal in every kind, per model and per
// profile, and a deployment's capacity: the most keys one admission
// touches.
func everyKindOfRequest(principal string) Request {
	all := ScopedLimits{RPM: 10, TPM: 1000, MaxConcurrency: 2, TokensPerDay: 1000, TokensPerMonth: 1000}
	return Request{
		Principal: principal,
		Limits: Limits{RPM: 10, TPM: 1000, MaxConcurrency: 2, TokensPerDay: 1000, TokensPerMonth: 1000,
			PerModel: map[string]ScopedLimits{"m": all}, PerProfile: map[string]ScopedLimits{"f": all}},
		Model: "m", Profile: "f", Deployment: "eu-west-1/m", Capacity: Capacity{RPM: 10, TPM: 1000, MaxConcurrency: 2},
		InputTokens: 10, MaxTokens: 10,
	}
}

// TestRedisClusterKeySlots holds the key layout to what Redis Cluster
// requires: every command the store sends, scripts first, names keys of
// one slot, and every key of a store is in the slot of its prefix. It
// records the commands of representative requests and of every other
// operation without a server, so a key added later cannot break cluster
// mode unnoticed, even where no cluster runs.
func TestRedisClusterKeySlots(t *testing.T) {
	odd := Request{
		Principal: "{team}:a/b", Model: "{m}", Profile: "x}{y", Deployment: "{eu-west-1}/m",
		Limits: Limits{RPM: 1, MaxConcurrency: 1, TokensPerDay: 1,
			PerModel: map[string]ScopedLimits{"{m}": {TPM: 5, MaxConcurrency: 1}}, PerProfile: map[string]ScopedLimits{"x}{y": {TokensPerMonth: 5}}},
		Capacity: Capacity{MaxConcurrency: 1, TPM: 100},
	}
	requests := []struct {
		name  string
		req   Request
		owner string
	}{
		{"principal rpm", Request{Principal: "alice", Limits: Limits{RPM: 60}}, ""},
		{"everything", everyKindOfRequest("alice"), "r1"},
		{"everything without a replica id", everyKindOfRequest("bob"), ""},
		{"source node: caller limits only", Request{Principal: "carol", Limits: Limits{TPM: 100, MaxConcurrency: 3, TokensPerMonth: 9}}, "r1"},
		{"destination node: capacity only", Request{Deployment: "us-east-1/m", Capacity: Capacity{RPM: 5, TPM: 50, MaxConcurrency: 1}}, "r2"},
		{"braces and colons in names", odd, "r.3-x_"},
		{"unicode", Request{Principal: "zoë/東京", Model: "m", Limits: Limits{PerModel: map[string]ScopedLimits{"m": {RPM: 1, MaxConcurrency: 1}}}}, "r1"},
	}
	for _, prefix := range []string{"", "eu-west-1:", "x", "a:b:c/", "prefix with spaces "} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			r, err := NewRedis(RedisConfig{URL: "redis://127.0.0.1:1?addr=127.0.0.1:2", KeyPrefix: prefix, Cluster: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rec := &keyRecorder{}
			r.client.AddHook(rec)
			ctx := t.Context()
			for i, tc := range requests {
				rules := tc.req.rules(false, nil)
				if len(rules) == 0 {
					t.Fatalf("%s: no rules", tc.name)
				}
				id := fmt.Sprintf("x-%d", i)
				if tc.owner != "" {
					id = tc.owner + "/" + id
				}
				c := Claim{ID: id, Owner: tc.owner, Rules: rules, Tokens: 20, Lease: time.Minute}
				if _, err := r.Reserve(ctx, c); !errors.Is(err, errRecorded) {
					t.Fatalf("%s: Reserve = %v, want the recorder's error", tc.name, err)
				}
				windows := make([]int64, len(rules))
				r.Commit(ctx, c, windows, 7)
				r.Release(ctx, c, windows)
				if tc.owner != "" {
					r.ReleaseLeases(ctx, tc.owner, tc.owner+"/y-")
				}
				if d := tc.req.Deployment; d != "" {
					r.SetCooldown(ctx, d, time.Second)
					r.Cooldowns(ctx, []string{d, "other/" + d})
					r.SetState(ctx, "circuit/"+d, "open", time.Second)
					r.SetState(ctx, "circuit/"+d, "", 0)
					r.States(ctx, []string{"circuit/" + d, "circuit/x"})
				}
			}
			r.PutRecords(ctx, "profiles", map[string]string{"p": "{}"})
			r.Records(ctx, "profiles:{eu}")
			r.Ping(ctx)
			if n := rec.check(t); n < 50 {
				t.Errorf("recorded %d keys, want those of every operation", n)
			}
			p := prefix
			if p == "" {
				p = DefaultKeyPrefix
			}
			want := keySlot("{" + p + "}")
			seen := map[string]bool{}
			for _, c := range rec.cmds {
				seen[c.name] = true
				for _, k := range c.keys {
					if keySlot(k) != want {
						t.Errorf("%s key %q in slot %d, want %d (the prefix's)", c.name, k, keySlot(k), want)
						break
					}
				}
			}
			// The reserve script with an owner carries the lease index,
			// and the release script the keys the index listed.
			for _, name := range []string{"evalsha", "smembers", "hset", "hgetall", "del"} {
				if !seen[name] {
					t.Errorf("no %s recorded; the table no longer covers it", name)
				}
			}
		})
	}
}

// TestNewRedisCluster: a cluster URL names its nodes as go-redis's
// ParseClusterURL reads them, carries a password (as password_env puts it
// in), and gets the store's time-outs unless it sets its own.
func TestNewRedisCluster(t *testing.T) {
	tests := []struct {
		url      string
		addrs    []string
		password string
		dial     time.Duration
	}{
		{"redis://10.0.0.5:6379?addr=10.0.0.6:6379&addr=10.0.0.7:6380", []string{"10.0.0.5:6379", "10.0.0.6:6379", "10.0.0.7:6380"}, "", time.Second},
		{"rediss://:s3cret%2Fwith%3Achars@cfg.example:6379/0?dial_timeout=250ms", []string{"cfg.example:6379"}, "s3cret/with:chars", 250 * time.Millisecond},
	}
	for _, tc := range tests {
		r, err := NewRedis(RedisConfig{URL: tc.url, Cluster: true})
		if err != nil {
			t.Fatalf("NewRedis(%q) = %v", tc.url, err)
		}
		o := r.client.(*redis.ClusterClient).Options()
		if !o.ContextTimeoutEnabled {
			t.Errorf("NewRedis(%q): context deadlines are not applied to commands", tc.url)
		}
		if !slices.Equal(o.Addrs, tc.addrs) || o.Password != tc.password || o.DialTimeout != tc.dial || o.ReadTimeout != time.Second || o.DialerRetries != 1 {
			t.Errorf("NewRedis(%q): addrs %v, password %q, dial %v, read %v, dial attempts %d; want %v, %q, %v, 1s, 1",
				tc.url, o.Addrs, o.Password, o.DialTimeout, o.ReadTimeout, o.DialerRetries, tc.addrs, tc.password, tc.dial)
		}
		if r.prefix != "{"+DefaultKeyPrefix+"}" {
			t.Errorf("prefix %q, want the default in braces", r.prefix)
		}
		r.Close()
	}
	// A single server keeps its layout: no braces, no migration.
	r, err := NewRedis(RedisConfig{URL: "redis://10.0.0.5:6379/2", KeyPrefix: "eu:"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc, ok := r.client.(*redis.Client)
	if !ok || r.prefix != "eu:" {
		t.Fatalf("single server: client %T, prefix %q; want *redis.Client and \"eu:\"", r.client, r.prefix)
	}
	if !sc.Options().ContextTimeoutEnabled {
		t.Error("single server: context deadlines are not applied to commands")
	}
	if o := sc.Options(); o.DB != 2 || o.DialTimeout != time.Second || o.ReadTimeout != time.Second || o.WriteTimeout != time.Second || o.DialerRetries != 1 {
		t.Errorf("single server: db %d, time-outs %v/%v/%v, dial attempts %d; want 2, 1s each, 1", o.DB, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.DialerRetries)
	}
}

// TestRedisClusterOutage kills the master that holds a region's slot and
// starts it again (empty, as without persistence): under fail_closed the
// limiter refuses with ErrStoreUnavailable meanwhile, and recovers by
// itself once the node is back, without a restart. A store whose slot is
// on another master is served meanwhile (the outage is shorter than the
// cluster's node time-out, after which a cluster without replicas would
// refuse everyone).
func TestRedisClusterOutage(t *testing.T) {
	c := startRedisCluster(t)
	clock := newFakeClock(suiteStart) // drives health probes only
	ctx := t.Context()
	open := func(prefix string) *Limiter {
		l, err := Open(Config{Store: StoreRedis, Redis: RedisConfig{URL: c.url(), KeyPrefix: prefix, Cluster: true}},
			Options{Clock: clock, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	l := open("outage:")
	req := Request{Principal: "p", Limits: Limits{RPM: 1000, MaxConcurrency: 10}, Deployment: "r/m", Capacity: Capacity{RPM: 1000}}
	mustAdmit(t, l, req).Release(ctx)

	// The node that holds the slot of "{outage:}", and a prefix whose slot
	// another node holds.
	probe := c.newClient(t, "probe:", nil)
	master := func(prefix string) string {
		m, err := probe.client.(*redis.ClusterClient).MasterForKey(ctx, "{"+prefix+"}")
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	var victim *redisServer
	for _, s := range c.nodes {
		if s.addr() == master("outage:") {
			victim = s
		}
	}
	if victim == nil {
		t.Fatalf("no node at %s", master("outage:"))
	}
	other := ""
	for i := range 100 {
		if p := fmt.Sprintf("other%d:", i); master(p) != victim.addr() {
			other = p
			break
		}
	}
	bystander := open(other)

	victim.stop()
	clock.Advance(probeInterval)
	if r, err := l.Admit(ctx, req); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Admit with the slot's master down = %v, %v; want ErrStoreUnavailable", r, err)
	}
	if l.Healthy() {
		t.Error("Healthy() = true with the slot's master down")
	}
	// The other masters still serve their slots.
	mustAdmit(t, bystander, req).Release(ctx)
	// Readiness asks the node of the store's own slot, whichever node a
	// keyless command would reach.
	for i := range 10 {
		if err := l.Check(ctx); !errors.Is(err, ErrStoreUnavailable) {
			t.Fatalf("Check() #%d with the slot's master down = %v, want ErrStoreUnavailable", i, err)
		}
		if err := bystander.Check(ctx); err != nil {
			t.Fatalf("Check() #%d of a store on a live master = %v", i, err)
		}
	}

	victim.start()
	eventually(t, "an admission after the master returned", func() bool {
		clock.Advance(probeInterval)
		r, err := l.Admit(ctx, req)
		if err != nil {
			return false
		}
		r.Release(ctx)
		return true
	})
	if !l.Healthy() {
		t.Error("Healthy() = false after recovery")
	}
}

// TestRedisClusterNodeWithoutClusterMode: a store configured for a single
// server but pointed at a cluster node whose slot for the prefix is on
// another node gets MOVED: the store is unavailable (not the request
// refused), and the error says to set quota.redis.cluster.
func TestRedisClusterNodeWithoutClusterMode(t *testing.T) {
	c := sharedRedisCluster(t)
	probe := c.newClient(t, "probe:", nil)
	ctx := t.Context()
	prefix := ""
	for i := range 100 {
		p := fmt.Sprintf("plain%d:", i)
		// Without braces, the keys of a single-server layout spread over
		// the slots; any rule's key on another node answers MOVED.
		m, err := probe.client.(*redis.ClusterClient).MasterForKey(ctx, p+"q:p/p:rpm")
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr != c.nodes[0].addr() {
			prefix = p
			break
		}
	}
	l, err := Open(Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://" + c.nodes[0].addr(), KeyPrefix: prefix}}, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Admit(ctx, Request{Principal: "p", Limits: Limits{RPM: 5}})
	if !errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrStoreRefused) || !strings.Contains(err.Error(), "quota.redis.cluster: true") {
		t.Errorf("Admit through a cluster node without cluster mode = %v; want ErrStoreUnavailable naming quota.redis.cluster", err)
	}
}

// TestRedisClusterSlotMoves moves the slot of a region's keys to another
// master while three replicas admit against a 100 rpm key (and a
// deployment's capacity, a day budget and a concurrency limit in the same
// script): the client follows MOVED and ASK, the servers answer TRYAGAIN
// while the keys are split, and in the end exactly 100 were admitted,
// counted once each, on the new master. Time is the fake clock's, so the
// minute never ends.
func TestRedisClusterSlotMoves(t *testing.T) {
	c := startRedisCluster(t)
	ctx := t.Context()
	clock := newFakeClock(suiteStart)
	const prefix = "moving:"
	req := Request{Principal: "p", Limits: Limits{RPM: 100, TokensPerDay: 1 << 30, MaxConcurrency: 1000},
		Deployment: "r/m", Capacity: Capacity{RPM: 1000, TPM: 1 << 30}, InputTokens: 1, MaxTokens: 1}
	var replicas []*Limiter
	for range 3 {
		// The limiters' own clock is the system's, so that a store marked
		// down during the move is probed again.
		replicas = append(replicas, newTestLimiter(t, c.newClient(t, prefix, clock), nil, Config{}))
	}
	var admitted atomic.Int64
	admit := func(l *Limiter) (rejected bool) {
		r, err := l.Admit(ctx, req)
		var le *LimitError
		switch {
		case err == nil:
			admitted.Add(1)
			if err := r.Commit(ctx, inference.Usage{InputTokens: 1, OutputTokens: 1}); err != nil && !errors.Is(err, ErrStoreUnavailable) {
				t.Errorf("Commit: %v", err)
			}
		case errors.As(err, &le):
			if le.Kind != RequestsPerMinute {
				t.Errorf("rejected by %s, want rpm", le.Kind)
			}
			return true
		case !errors.Is(err, ErrStoreUnavailable):
			t.Errorf("Admit: %v", err)
		}
		return false
	}
	for range 30 {
		admit(replicas[0])
	}

	slot := keySlot("{" + prefix + "}")
	node := func(addr string) *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	var clients []*redis.Client
	var ids []string
	src := -1
	for i, s := range c.nodes {
		rc := node(s.addr())
		id, err := rc.Do(ctx, "cluster", "myid").Text()
		if err != nil {
			t.Fatal(err)
		}
		n, err := rc.ClusterCountKeysInSlot(ctx, slot).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			src = i
		}
		clients, ids = append(clients, rc), append(ids, id)
	}
	if src < 0 {
		t.Fatalf("no node holds keys of slot %d", slot)
	}
	dst := (src + 1) % 3

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range replicas {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					admit(l)
				}
			}
		})
	}
	// Move the slot as redis-cli --cluster reshard does, a key at a time,
	// with admissions running.
	must := func(err error) {
		t.Helper()
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
	}
	// Besides the replicas' traffic, one claim straight to the store at
	// each step (a limiter that failed waits for its next probe), so that
	// every state of the move is met: keys all on the old master, split
	// between the two, all on the new one before (ASK) and after (MOVED)
	// the slot is handed over. A held lease keeps every key of the claim
	// in existence: while a slot moves, a script naming a key that exists
	// on neither side (a first request, a concurrency limit with nothing in
	// flight) gets TRYAGAIN, which is the store being unavailable.
	held, err := replicas[0].Admit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	admitted.Add(1)
	direct := c.newClient(t, prefix, clock)
	seq := 0
	const served, unavailable, either = "served", "unavailable", "either"
	step := func(what string, r Request, want string) {
		t.Helper()
		seq++
		claim := Claim{ID: fmt.Sprint("direct-", seq), Rules: r.rules(false, nil), Tokens: 2, Lease: time.Minute}
		out, err := direct.Reserve(ctx, claim)
		switch {
		case errors.Is(err, ErrStoreRefused):
			t.Errorf("%s: Reserve = %v, want no refusal", what, err)
		case err != nil && want == served:
			t.Errorf("%s: Reserve = %v, want it served", what, err)
		case err == nil && want == unavailable:
			t.Errorf("%s: Reserve = %+v, want TRYAGAIN (unavailable)", what, out)
		case err == nil && out.Admitted && r.Principal == req.Principal:
			admitted.Add(1)
		case err == nil && r.Principal == req.Principal && out.Rules[0].Used != 100:
			t.Errorf("%s: rejected with %d of 100 used", what, out.Rules[0].Used)
		}
	}
	newcomer := Request{Principal: "newcomer", Limits: Limits{RPM: 5, MaxConcurrency: 5}, Deployment: req.Deployment, Capacity: req.Capacity}
	must(clients[dst].Do(ctx, "cluster", "setslot", slot, "importing", ids[src]).Err())
	must(clients[src].Do(ctx, "cluster", "setslot", slot, "migrating", ids[dst]).Err())
	step("migrating, no key moved", req, served)
	step("migrating, a first request", newcomer, unavailable)
	moved := 0
	for {
		keys, err := clients[src].ClusterGetKeysInSlot(ctx, slot, 1).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		must(clients[src].Do(ctx, "migrate", "127.0.0.1", c.nodes[dst].port, keys[0], 0, 5000).Err())
		moved++
		step(fmt.Sprintf("%d keys moved", moved), req, either)
	}
	if moved < 3 {
		t.Errorf("moved %d keys, want the rules' keys", moved)
	}
	step("every key moved, slot not handed over", req, served)
	for _, i := range []int{dst, src, 3 - src - dst} {
		must(clients[i].Do(ctx, "cluster", "setslot", slot, "node", ids[dst]).Err())
	}
	step("slot handed over, a first request", newcomer, served)
	step("slot handed over", req, served)
	close(stop)
	wg.Wait()

	// Now fill the minute through every replica: exactly 100 in all.
	for _, l := range replicas {
		eventually(t, "a rejection after the move", func() bool { return admit(l) })
	}
	if err := held.Commit(ctx, inference.Usage{OutputTokens: 1}); err != nil {
		t.Errorf("Commit of the lease held across the move: %v", err)
	}
	if got := admitted.Load(); got != 100 {
		t.Errorf("admitted %d, want exactly 100 (the limit), each counted once", got)
	}
	if n, err := clients[dst].ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || n == 0 {
		t.Errorf("keys in slot %d on the new master: %d, %v; want them all there", slot, n, err)
	}
	if n, err := clients[src].ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || n != 0 {
		t.Errorf("keys in slot %d left on the old master: %d, %v; want none", slot, n, err)
	}
}
