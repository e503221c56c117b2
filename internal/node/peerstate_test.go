package node

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/meridian-gateway/meridian/internal/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// peerNode returns a node of eu-west-1 (not started: nothing is bound)
// whose warnings and errors go to the returned buffer.
func peerNode(t *testing.T) (*Node, *bytes.Buffer) {
	t.Helper()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
audit: {disabled: true}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock}}
`), "peer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	logs.Reset() // start-up warnings (insecure link) are not the test's
	return n, &logs
}

var peerT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fullPeerState is a state of eu-central-1 with every member set.
func fullPeerState(topologyDigest string) peerState {
	return peerState{
		Snapshot: routing.Snapshot{Region: "eu-central-1", SentAt: peerT0, Deployments: []routing.State{
			{Region: "eu-central-1", Model: "demo.chat-small", InFlight: 3, MaxConcurrency: 64, RPMRemaining: 100, TPMRemaining: 1000, ObservedAt: peerT0},
		}},
		Profiles: []profile.Record{{ID: "abc123def456", Name: "team-a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-central-1",
			Tags: map[string]string{"cost": "a"}, CreatedAt: peerT0, UpdatedAt: peerT0}},
		Flows:    []ui.FlowStat{{Source: "eu-central-1", Destination: "eu-west-1", Profile: "eu.demo.chat-small", Geographic: true, Rate: 0.5, Count: 5}},
		Topology: topologyDigest,
	}
}

// TestPeerStateWireFormat pins the document nodes exchange: nodes of
// different versions must keep reading each other's state.
func TestPeerStateWireFormat(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("testdata", "peerstate", "full", "state.json")
	st := fullPeerState("digest")
	got, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("encoded peer state differs from %s (-want +got; run with -update if the change is meant):\n%s", golden, d)
	}
	back, err := decodePeerState(want)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st, back); d != "" {
		t.Errorf("decodePeerState(%s) (-want +got):\n%s", golden, d)
	}
}

// TestPeerStateReachesEveryConsumer: one document, decoded once, feeds
// routing (load), the console (flows), the registry (profiles, which the
// gateway then serves) and the residency check (topology digest).
func TestPeerStateReachesEveryConsumer(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"fetch", "push"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			n, logs := peerNode(t)
			body, err := json.Marshal(fullPeerState(n.Gateway().Catalog().ResidencyDigest()))
			if err != nil {
				t.Fatal(err)
			}
			if via == "fetch" {
				n.onPeerState("eu-central-1", body, 5*time.Millisecond)
			} else {
				n.onPush("eu-central-1", body)
			}
			if logs.Len() != 0 {
				t.Errorf("applying a good state logged:\n%s", logs)
			}
			if st, ok := n.Gateway().Routing().Tracker.State(routing.Key{Region: "eu-central-1", Model: "demo.chat-small"}); !ok || st.InFlight != 3 {
				t.Errorf("routing: eu-central-1 state = %+v, %v; want in_flight 3", st, ok)
			}
			if r := n.live.Frame(nil).Reporting; !slices.Contains(r, "eu-central-1") {
				t.Errorf("console: reporting regions %v, want eu-central-1", r)
			}
			if _, ok := n.profiles.Get("abc123def456"); !ok {
				t.Errorf("registry: the peer's profile was not merged")
			}
			if _, err := n.Gateway().Catalog().Resolve("eu-west-1", "abc123def456"); err != nil {
				t.Errorf("gateway: the peer's profile does not resolve: %v", err)
			}
			if n.topologyMismatch("eu-central-1") {
				t.Errorf("residency check: a mismatch reported for the same topology")
			}
		})
	}
}

// TestMalformedPeerStateAppliedToNothing: a document that does not decode
// is logged once and reaches no consumer, whichever member is broken.
func TestMalformedPeerStateAppliedToNothing(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body string }{
		{"not json", `{`},
		{"profiles of the wrong type", `{"region":"eu-central-1","profiles":7,"flows":[{"source":"eu-central-1","destination":"eu-west-1","profile":"p","count":1}],"topology":"x"}`},
		{"flows of the wrong type", `{"region":"eu-central-1","flows":"many","profiles":[{"id":"abc123def456","copyFrom":"eu.demo.chat-small"}],"topology":"x"}`},
		{"deployments of the wrong type", `{"region":"eu-central-1","deployments":{},"profiles":[{"id":"abc123def456","copyFrom":"eu.demo.chat-small"}]}`},
	}
	for _, tc := range tests {
		for _, via := range []string{"fetch", "push"} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				t.Parallel()
				n, logs := peerNode(t)
				key := routing.Key{Region: "eu-central-1", Model: "demo.chat-small"}
				before, _ := n.Gateway().Routing().Tracker.State(key)
				if via == "fetch" {
					n.onPeerState("eu-central-1", json.RawMessage(tc.body), time.Millisecond)
				} else {
					n.onPush("eu-central-1", json.RawMessage(tc.body))
				}
				if got := strings.Count(logs.String(), "level=WARN"); got != 1 || !strings.Contains(logs.String(), "unreadable state") {
					t.Errorf("logged %d warnings, want one saying the state is unreadable:\n%s", got, logs)
				}
				if after, _ := n.Gateway().Routing().Tracker.State(key); !cmp.Equal(before, after) {
					t.Errorf("routing changed: %+v -> %+v", before, after)
				}
				if r := n.live.Frame(nil).Reporting; !slices.Equal(r, []string{"eu-west-1"}) {
					t.Errorf("console: reporting regions %v, want only eu-west-1", r)
				}
				if recs := n.profiles.Records(); len(recs) != 0 {
					t.Errorf("registry: %+v merged", recs)
				}
				if _, seen := n.mismatch.Load("eu-central-1"); seen {
					t.Errorf("residency check ran on an unreadable state")
				}
			})
		}
	}
}

// TestPeerStateHasOneDecoder proves, on the package's source, that a peer
// state is decoded once: onPeerState and onPush each call decodePeerState
// once and nothing else that decodes; applyPeerState receives the decoded
// value only (no bytes to decode again); decodePeerState holds the one
// json.Unmarshal; and nothing in the package hands the raw document to
// another package's decoder (ui's ApplyPeer, the former
// bedrock MergePeerState).
func TestPeerStateHasOneDecoder(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				funcs[fd.Name.Name] = fd
			}
		}
		ast.Inspect(af, func(nd ast.Node) bool {
			if sel, ok := nd.(*ast.SelectorExpr); ok && (sel.Sel.Name == "ApplyPeer" || sel.Sel.Name == "MergePeerState") {
				t.Errorf("%s: %s hands a raw peer state to another decoder", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	// calls counts the calls in fn's body by callee name ("json.Unmarshal",
	// "decodePeerState", "n.applyPeerState").
	calls := func(name string) map[string]int {
		fd := funcs[name]
		if fd == nil {
			t.Fatalf("func %s not found", name)
		}
		out := map[string]int{}
		ast.Inspect(fd.Body, func(nd ast.Node) bool {
			c, ok := nd.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fn := c.Fun.(type) {
			case *ast.Ident:
				out[fn.Name]++
			case *ast.SelectorExpr:
				if x, ok := fn.X.(*ast.Ident); ok {
					out[x.Name+"."+fn.Sel.Name]++
				}
			}
			return true
		})
		return out
	}
	decodes := func(c map[string]int) int { return c["json.Unmarshal"] + c["json.NewDecoder"] }
	for _, name := range []string{"onPeerState", "onPush"} {
		c := calls(name)
		if c["decodePeerState"] != 1 || decodes(c) != 0 {
			t.Errorf("%s calls decodePeerState %d times and json %d times, want 1 and 0", name, c["decodePeerState"], decodes(c))
		}
	}
	if c := calls("applyPeerState"); decodes(c) != 0 || c["decodePeerState"] != 0 {
		t.Errorf("applyPeerState decodes (%v)", c)
	}
	for _, p := range funcs["applyPeerState"].Type.Params.List {
		if s := typeString(p.Type); s == "json.RawMessage" || s == "[]byte" {
			t.Errorf("applyPeerState takes a %s: it must receive the decoded state only", s)
		}
	}
	if c := calls("decodePeerState"); decodes(c) != 1 {
		t.Errorf("decodePeerState decodes %d times, want 1", decodes(c))
	}
}

// typeString renders a parameter type written as an identifier, a selector or a
// slice of one.
func typeString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return typeString(x.X) + "." + x.Sel.Name
	case *ast.ArrayType:
		return "[]" + typeString(x.Elt)
	case *ast.StarExpr:
		return "*" + typeString(x.X)
	}
	return ""
}

// TestRefusedPeerProfileLoggedOnce: a peer publishes its full set every
// load interval; a record this node refuses (a lookalike id) is logged
// once, never stored, and the rest of the state still applies.
func TestRefusedPeerProfileLoggedOnce(t *testing.T) {
	t.Parallel()
	n, logs := peerNode(t)
	st := fullPeerState(n.Gateway().Catalog().ResidencyDigest())
	st.Profiles = append(st.Profiles, profile.Record{ID: "eu.evil", Name: "evil", CopyFrom: "global.demo.chat-small", HomeRegion: "eu-central-1", UpdatedAt: peerT0})
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		n.onPeerState("eu-central-1", body, time.Millisecond)
	}
	if got := strings.Count(logs.String(), "profile=eu.evil"); got != 1 {
		t.Errorf("the refused record was logged %d times in three states, want once:\n%s", got, logs)
	}
	if _, ok := n.profiles.Get("eu.evil"); ok {
		t.Errorf("a lookalike id from a peer was stored")
	}
	if _, ok := n.profiles.Get("abc123def456"); !ok {
		t.Errorf("the peer's valid record was not merged beside the refused one")
	}
}

// FuzzPeerState: whatever a peer sends, applying it does not panic, and no
// record whose id reads as a system profile's is ever stored (invariant 1).
func FuzzPeerState(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "peerstate", "full", "state.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{`))
	f.Add([]byte(`{"region":"eu-central-1","profiles":[{"id":"eu.evil","copyFrom":"global.demo.chat-small"}]}`))
	f.Add([]byte(`{"region":"eu-west-1","deployments":[{"region":"eu-west-1","model":"demo.chat-small"}]}`))
	f.Add([]byte(`{"region":"eu-central-1","flows":[{"source":"us-east-1","destination":"eu-west-1","count":-1}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, _ := peerNode(t)
		n.onPeerState("eu-central-1", body, time.Millisecond)
		n.onPush("eu-central-1", body)
		for _, r := range n.profiles.Records() {
			if err := n.Gateway().Catalog().CheckApplicationID(r.ID); err != nil {
				t.Fatalf("stored %q from a peer: %v", r.ID, err)
			}
		}
	})
}
