package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
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
// with that entry as after_id (or before_id), is refused exactly as a
// cursor naming no entry is (same status, type and message but for the
// echoed id), so that a cursor is no oracle for which hidden models exist
// (docs/api.md, "Who sees what"); the listing and a get of it show it no
// more.
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
	// A cursor naming eu.demo.b, now hidden, answers exactly as one naming
	// an entry that never existed (eu.demo.q), with the id echoed.
	answer := func(param, id string) string {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+n.ClientAddr()+"/v1/models?limit=1&"+param+"="+id, nil)
		req.Header.Set("X-Api-Key", key)
		req.Header.Set("Anthropic-Version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &body)
		if resp.StatusCode == http.StatusOK {
			return "200 " + string(raw)
		}
		return fmt.Sprintf("%d %s %s %q", resp.StatusCode, body.Type, body.Error.Type, strings.TrimSuffix(body.Error.Message, id)+"ID")
	}
	for _, param := range []string{"after_id", "before_id"} {
		hidden, unknown := answer(param, "eu.demo.b"), answer(param, "eu.demo.q")
		if want := fmt.Sprintf("400 error invalid_request_error %q", param+": no model ID"); hidden != want || unknown != want {
			t.Errorf("%s=eu.demo.b (hidden) answers %s; %s=eu.demo.q (unknown) answers %s; want both %s", param, hidden, param, unknown, want)
		}
	}
	_, hiddenErr := client.Models.List(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1), AfterID: anthropic.String("eu.demo.b")})
	var apiErr *anthropic.Error
	if !errors.As(hiddenErr, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Errorf("client.Models.List(after eu.demo.b, hidden) = %v; want a 400", hiddenErr)
	}
	if _, err := client.Models.Get(t.Context(), "eu.demo.b", anthropic.ModelGetParams{}); err == nil {
		t.Error("Models.Get(eu.demo.b) answered an entry the caller may no longer see")
	}
}
