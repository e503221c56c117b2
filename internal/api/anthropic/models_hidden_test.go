package anthropic_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/packages/pagination"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestModelsPagingPastAnEntryHiddenMidWalk: Anthropic's official client
// walks GET /v1/models one entry a page while a time-based policy (an
// explicit Deny of invoking eu.demo.b from a given time, on a node under a
// manual clock) hides the entry its cursor names: the next page, asked
// with that entry as after_id (or before_id), is served from the entry's
// place in the catalog instead of refused, and shows the entry no more.
func TestModelsPagingPastAnEntryHiddenMidWalk(t *testing.T) {
	dir := t.TempDir()
	key, _ := auth.NewKey()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	at := time.Date(2031, 3, 4, 8, 0, 0, 0, time.UTC)
	cfg, err := topology.Parse([]byte(fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { dir: %q }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: %q }
models: [ { id: demo.a }, { id: demo.b }, { id: demo.c } ]
deployments:
  - { model: demo.a, region: eu-west-1, backend: { type: mock } }
  - { model: demo.b, region: eu-west-1, backend: { type: mock } }
  - { model: demo.c, region: eu-west-1, backend: { type: mock } }
principals: [ { id: walker, api_keys: [%q], policies: [office-hours] } ]
policies:
  office-hours:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:*", Resource: "*" }
      - Effect: Deny
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: "arn:aws:bedrock:*:111122223333:inference-profile/eu.demo.b"
        Condition: { DateGreaterThan: { "aws:CurrentTime": "2031-03-04T09:00:00Z" } }
`, filepath.Join(dir, "audit"), cl.Addr(), ll.Addr(), auth.HashKey(key))), "hidden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(at)
	n, err := node.New(node.Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, DataDir: t.TempDir(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard only
		defer cancel()
		n.Shutdown(ctx)
	})
	client := anthropic.NewClient(option.WithBaseURL("http://"+n.ClientAddr()), option.WithAPIKey(key), option.WithMaxRetries(0))
	ids := func(p *pagination.Page[anthropic.ModelInfo]) []string {
		var out []string
		for _, m := range p.Data {
			out = append(out, m.ID)
		}
		return out
	}
	all, err := client.Models.List(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1000)})
	if err != nil {
		t.Fatal(err)
	}
	before := ids(all)
	b := slices.Index(before, "eu.demo.b")
	if b < 1 || b+1 >= len(before) {
		t.Fatalf("list %v: want eu.demo.b with an entry on each side", before)
	}
	// Walk one a page up to eu.demo.b.
	var cursor string
	for {
		p := anthropic.ModelListParams{Limit: anthropic.Int(1)}
		if cursor != "" {
			p.AfterID = anthropic.String(cursor)
		}
		page, err := client.Models.List(t.Context(), p)
		if err != nil {
			t.Fatalf("page after %q: %v", cursor, err)
		}
		if len(page.Data) != 1 {
			t.Fatalf("page after %q: %v", cursor, ids(page))
		}
		if cursor = page.Data[0].ID; cursor == "eu.demo.b" {
			break
		}
	}
	clk.Set(time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)) // eu.demo.b is now hidden
	after := slices.Delete(slices.Clone(before), b, b+1)
	now, err := client.Models.List(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(now), after) {
		t.Fatalf("list after the policy changed = %v, %v; want %v", ids(now), err, after)
	}
	next, err := client.Models.List(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1), AfterID: anthropic.String("eu.demo.b")})
	if err != nil {
		t.Fatalf("page after the hidden eu.demo.b: %v", err)
	}
	if !slices.Equal(ids(next), before[b+1:b+2]) || next.HasMore != (b+2 < len(before)) {
		t.Fatalf("page after the hidden eu.demo.b = %v (has_more %v), %v; want %v", ids(next), next.HasMore, err, before[b+1:b+2])
	}
	prev, err := client.Models.List(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1), BeforeID: anthropic.String("eu.demo.b")})
	if err != nil {
		t.Fatalf("page before the hidden eu.demo.b: %v", err)
	}
	if !slices.Equal(ids(prev), before[b-1:b]) || prev.HasMore != (b > 1) {
		t.Fatalf("page before the hidden eu.demo.b = %v (has_more %v), %v; want %v", ids(prev), prev.HasMore, err, before[b-1:b])
	}
	if _, err := client.Models.Get(t.Context(), "eu.demo.b", anthropic.ModelGetParams{}); err == nil {
		t.Error("Models.Get(eu.demo.b) answered an entry the caller may no longer see")
	}
}
