package quota

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/meridian-gateway/meridian/internal/testenv"
)

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestMain(m *testing.M) {
	// go-redis logs dial failures on its own global logger; the limiter
	// reports outages itself.
	redis.SetLogger(&logging.VoidLogger{})
	code := m.Run()
	stopSharedCluster()
	os.Exit(code)
}

// eventually polls cond until it holds, for conditions that depend on an
// external process (a restarted redis-server); the deadline is a hang guard.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if err := waitFor(what, cond); err != nil {
		t.Fatal(err)
	}
}

// waitFor is eventually, returning its error.
func waitFor(what string, cond func() bool) error {
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s", what)
		}
		<-tick.C
	}
	return nil
}

// testLogger returns a logger whose output attaches to t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// redisServer is a redis-server process that a test started on a free
// loopback port, with no persistence. It can be stopped and started again
// on the same port.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// extra are more command-line options (cluster mode).
	extra []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedis starts a redis-server for t, or skips t when the binary is
// missing (fails under MERIDIAN_INTEGRATION=required).
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "valkey-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) url() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0?%s", s.port, hangGuardTimeouts)
}

// hangGuardTimeouts replace the store's 1s read and write time-outs in
// tests: a busy test machine may take longer than a second to run a
// script, which would be no outage. A stopped server is refused at once,
// so outage tests do not wait on them.
const hangGuardTimeouts = "read_timeout=30s&write_timeout=30s"

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// start runs the server and waits until it says it accepts connections.
func (s *redisServer) start() {
	s.t.Helper()
	if err := s.run(); err != nil {
		s.t.Fatal(err)
	}
}

// run is start, returning its error (for servers that outlive a test).
func (s *redisServer) run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", ""}
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	dieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %v", s.bin, err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", strings.Join(log, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Wait()
			return err
		}
	case <-time.After(30 * time.Second): // hang guard only
		cmd.Process.Kill()
		cmd.Wait()
		return errors.New("redis-server did not become ready in 30s")
	}
	s.cmd = cmd
	return nil
}

// stop kills the server (as a crash would) and waits for it to exit.
func (s *redisServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// newClient returns a Redis store on s with prefix; clock, when not nil,
// replaces the server's TIME.
func (s *redisServer) newClient(t testing.TB, prefix string, clock Clock) *Redis {
	t.Helper()
	r, err := NewRedis(RedisConfig{URL: s.url(), KeyPrefix: prefix})
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

// metricValue returns the value of the gauge or counter name in reg whose
// labels include label ("k=v"; empty for any), or -1 when absent.
func metricValue(t testing.TB, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName()+"="+lp.GetValue() == label {
					match = true
				}
			}
			if !match {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
