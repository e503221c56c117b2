package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// recordLog keeps every finished request's record.
type recordLog struct {
	mu   sync.Mutex
	recs []gateway.Record
}

func (l *recordLog) Record(_ context.Context, rec *gateway.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, *rec)
	return nil
}

// take returns the records kept since the last take.
func (l *recordLog) take() []gateway.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.recs
	l.recs = nil
	return out
}

// newModelsServer serves eu-west-1, where models m (context window 8192),
// eu.m (no context window) and n are deployed: eu.m is also the id of m's
// system profile, which names m wherever the id is resolved.
func newModelsServer(t *testing.T) (*httptest.Server, *recordLog) {
	t.Helper()
	cfg, err := topology.Parse(fmt.Appendf(nil, `account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m, context_window: 8192 }, { id: eu.m }, { id: n } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: eu.m, region: eu-west-1, backend: { type: mock } }
  - { model: n, region: eu-west-1, backend: { type: mock } }
principals: [ { id: p, api_keys: [%q] } ]
`, auth.HashKey(testKey)), "models.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recs := &recordLog{}
	b := &fakeBackend{}
	g, err := gateway.New(gateway.Options{Region: "eu-west-1", Config: cfg, Authorizer: gateway.AllowAll{},
		Backends: map[string]gateway.Backend{"m": b, "eu.m": b, "n": b}, Recorder: recs})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(g, Options{}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, recs
}

func anthropicClient(srv *httptest.Server, opts ...option.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]option.RequestOption{option.WithBaseURL(srv.URL), option.WithAPIKey(testKey),
		option.WithMaxRetries(0), option.WithHTTPClient(srv.Client())}, opts...)...)
}

// openAIList returns the ids of GET /v1/models in OpenAI's shape.
func openAIList(t *testing.T, srv *httptest.Server) []string {
	t.Helper()
	status, b := getModels(t, srv, "/v1/models", false)
	var list modelList
	if err := json.Unmarshal(b, &list); err != nil || status != 200 {
		t.Fatalf("openai list: status %d body %s (%v)", status, b, err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

// getModels sends GET path with the test key, in Anthropic's shape
// (anthropic-version, x-api-key) when anthropicShape is set.
func getModels(t *testing.T, srv *httptest.Server, path string, anthropicShape bool) (int, []byte) {
	t.Helper()
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if anthropicShape {
		r.Header.Set("x-api-key", testKey)
		r.Header.Set("anthropic-version", "2023-06-01")
	} else {
		r.Header.Set("Authorization", "Bearer "+testKey)
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// walk collects the ids an auto-pager yields, failing (instead of looping
// on) a pager that would not end.
func walk[T any](t *testing.T, iter interface {
	Next() bool
	Current() T
	Err() error
}, id func(T) string) []string {
	t.Helper()
	var got []string
	for iter.Next() {
		got = append(got, id(iter.Current()))
		if len(got) > 50 {
			t.Fatalf("the auto-pager does not end: %v", got)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("auto-pager: %v", err)
	}
	return got
}

// TestModelsListEachIDOnce: a model id that is also the id of a system
// profile (model eu.m beside m's profile eu.m) is listed once, in both
// shapes, as the profile (what the id calls); anthropic-sdk-go's
// auto-pager, one entry a page, forwards (Models and Beta.Models) and
// backwards, ends and yields each id once; GET /v1/models/eu.m answers
// the profile's entry.
func TestModelsListEachIDOnce(t *testing.T) {
	t.Parallel()
	srv, _ := newModelsServer(t)
	want := openAIList(t, srv)
	if len(want) < 3 || !slices.Contains(want, "eu.m") || !slices.Contains(want, "m") {
		t.Fatalf("openai list %v, want eu.m, m and more", want)
	}
	seen := map[string]bool{}
	for _, id := range want {
		if seen[id] {
			t.Errorf("openai list %v: %s twice", want, id)
		}
		seen[id] = true
	}
	client := anthropicClient(srv)
	got := walk(t, client.Models.ListAutoPaging(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1)}), func(m anthropic.ModelInfo) string { return m.ID })
	if !slices.Equal(got, want) {
		t.Errorf("Models.ListAutoPaging, limit 1: %v, want openai's %v", got, want)
	}
	got = walk(t, client.Beta.Models.ListAutoPaging(t.Context(), anthropic.BetaModelListParams{Limit: anthropic.Int(1)}), func(m anthropic.BetaModelInfo) string { return m.ID })
	if !slices.Equal(got, want) {
		t.Errorf("Beta.Models.ListAutoPaging, limit 1: %v, want openai's %v", got, want)
	}
	last := want[len(want)-1]
	got = walk(t, client.Models.ListAutoPaging(t.Context(), anthropic.ModelListParams{BeforeID: anthropic.String(last), Limit: anthropic.Int(1)}), func(m anthropic.ModelInfo) string { return m.ID })
	back := slices.Clone(want[:len(want)-1])
	slices.Reverse(back)
	if !slices.Equal(got, back) {
		t.Errorf("Models.ListAutoPaging before %s, limit 1: %v, want %v", last, got, back)
	}

	m, err := client.Models.Get(t.Context(), "eu.m", anthropic.ModelGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "eu.m" || m.MaxInputTokens != 8192 {
		t.Errorf("Models.Get(eu.m): %+v, want the entry of the profile of m (8192 tokens)", m)
	}
}

// TestModelsBeforeID: a page before an entry has more only when entries
// precede it: before the second entry, one a page, is the first and
// has_more false; before the third it is the second, has_more true. A
// backward auto-pager, one entry a page, asks once per entry, not once
// more for an empty page.
func TestModelsBeforeID(t *testing.T) {
	t.Parallel()
	srv, _ := newModelsServer(t)
	want := openAIList(t, srv)
	client := anthropicClient(srv)
	for i, tc := range []struct {
		before  string
		first   string
		hasMore bool
	}{
		{want[1], want[0], false},
		{want[2], want[1], true},
	} {
		page, err := client.Models.List(t.Context(), anthropic.ModelListParams{BeforeID: anthropic.String(tc.before), Limit: anthropic.Int(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != tc.first || page.HasMore != tc.hasMore || page.FirstID != tc.first || page.LastID != tc.first {
			var ids []string
			for _, m := range page.Data {
				ids = append(ids, m.ID)
			}
			t.Errorf("%d: page before %s: %v has_more %v, want [%s] has_more %v", i, tc.before, ids, page.HasMore, tc.first, tc.hasMore)
		}
	}

	var requests int
	counting := anthropicClient(srv, option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		requests++
		return next(r)
	}))
	last := want[len(want)-1]
	got := walk(t, counting.Models.ListAutoPaging(t.Context(), anthropic.ModelListParams{BeforeID: anthropic.String(last), Limit: anthropic.Int(1)}), func(m anthropic.ModelInfo) string { return m.ID })
	if len(got) != len(want)-1 || requests != len(want)-1 {
		t.Errorf("backward auto-pager from %s: %v in %d requests, want %d entries in as many requests", last, got, requests, len(want)-1)
	}
}

// TestModelsAnthropicQuery: what anthropic-sdk-go sends is taken:
// client.Beta.Models (beta=true) and the lifecycle filter, which it
// writes lifecycle[]; every lifecycle value, bare or bracketed, is
// checked, and an unknown parameter is refused naming it.
func TestModelsAnthropicQuery(t *testing.T) {
	t.Parallel()
	srv, _ := newModelsServer(t)
	want := openAIList(t, srv)
	client := anthropicClient(srv)

	beta, err := client.Beta.Models.List(t.Context(), anthropic.BetaModelListParams{})
	if err != nil {
		t.Errorf("Beta.Models.List: %v", err)
	} else if len(beta.Data) != len(want) {
		t.Errorf("Beta.Models.List: %d entries, want %d", len(beta.Data), len(want))
	}
	if _, err := client.Beta.Models.Get(t.Context(), "m", anthropic.BetaModelGetParams{}); err != nil {
		t.Errorf("Beta.Models.Get: %v", err)
	}
	for _, tc := range []struct {
		lifecycle []string
		n         int
	}{
		{[]string{"active"}, len(want)},
		{[]string{"deprecated", "active"}, len(want)},
		{[]string{"deprecated"}, 0},
		{[]string{"retired", "deprecated"}, 0},
	} {
		page, err := client.Models.List(t.Context(), anthropic.ModelListParams{Lifecycle: tc.lifecycle})
		if err != nil {
			t.Errorf("lifecycle %v: %v", tc.lifecycle, err)
			continue
		}
		if len(page.Data) != tc.n {
			t.Errorf("lifecycle %v: %d entries, want %d", tc.lifecycle, len(page.Data), tc.n)
		}
	}
	_, err = client.Models.List(t.Context(), anthropic.ModelListParams{Lifecycle: []string{"active", "bogus"}})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || string(ae.Type()) != "invalid_request_error" {
		t.Errorf("lifecycle [active bogus]: %v, want a 400 invalid_request_error", err)
	}

	for _, tc := range []struct {
		query  string
		status int
		param  string // of the refusal
	}{
		{"?beta=true", 200, ""},
		{"?beta=true&limit=1&lifecycle[]=active", 200, ""},
		{"?lifecycle=active&lifecycle=bogus", 400, "lifecycle"},
		{"?lifecycle[]=active&lifecycle[]=bogus", 400, "lifecycle[]"},
		{"?lifecycle=active&lifecycle[]=bogus", 400, "lifecycle[]"},
		{"?lifecycle=", 400, "lifecycle"},
		{"?limit=1&order=asc", 400, "order"},
	} {
		status, b := getModels(t, srv, "/v1/models"+tc.query, true)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.query, status, tc.status, b)
			continue
		}
		if tc.status == 200 {
			continue
		}
		var e struct {
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Type != "invalid_request_error" || len(e.Error.Message) < len(tc.param) || e.Error.Message[:len(tc.param)+1] != tc.param+":" {
			t.Errorf("%s: body %s, want an invalid_request_error naming %s", tc.query, b, tc.param)
		}
	}
}

// TestModelsEntryFields: an entry in Anthropic's shape carries what
// anthropic-sdk-go's ModelInfo reads: lifecycle active, deprecated_at,
// retires_at and line null, and max_input_tokens and max_tokens where the
// model sets a context window (left out where it does not).
func TestModelsEntryFields(t *testing.T) {
	t.Parallel()
	srv, _ := newModelsServer(t)
	client := anthropicClient(srv)
	for _, tc := range []struct {
		id     string
		tokens int64
	}{
		{"m", 8192},
		{"eu.m", 8192}, // the profile of m
		{"eu.eu.m", 0}, // the profile of model eu.m, which sets no context window
	} {
		m, err := client.Models.Get(t.Context(), tc.id, anthropic.ModelGetParams{})
		if err != nil {
			t.Errorf("%s: %v", tc.id, err)
			continue
		}
		if m.Lifecycle != "active" || m.JSON.DeprecatedAt.Raw() != "null" || m.JSON.RetiresAt.Raw() != "null" || m.JSON.Line.Raw() != "null" {
			t.Errorf("%s: lifecycle %q, deprecated_at %q, retires_at %q, line %q; want active and nulls", tc.id, m.Lifecycle, m.JSON.DeprecatedAt.Raw(), m.JSON.RetiresAt.Raw(), m.JSON.Line.Raw())
		}
		if m.MaxInputTokens != tc.tokens || m.MaxTokens != tc.tokens || tc.tokens == 0 && (m.JSON.MaxTokens.Raw() != "" || m.JSON.MaxInputTokens.Raw() != "") {
			t.Errorf("%s: max_input_tokens %s, max_tokens %s; want %d", tc.id, m.JSON.MaxInputTokens.Raw(), m.JSON.MaxTokens.Raw(), tc.tokens)
		}
	}
	page, err := client.Models.List(t.Context(), anthropic.ModelListParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Data {
		if m.Lifecycle != "active" {
			t.Errorf("list entry %s: lifecycle %q", m.ID, m.Lifecycle)
		}
	}
}

// TestModelsRecorded: every model list request, in either shape, answered
// or refused, leaves exactly one record (invariant 4 in
// docs/architecture.md), with the status it was answered; a get names the
// entry it answered.
func TestModelsRecorded(t *testing.T) {
	t.Parallel()
	srv, recs := newModelsServer(t)
	for _, tc := range []struct {
		name      string
		path      string
		anthropic bool
		key       string
		status    int
		profileID string
		arn       string
	}{
		{"openai list", "/v1/models", false, testKey, 200, "", ""},
		{"openai get", "/v1/models/eu.m", false, testKey, 200, "eu.m", "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m"},
		{"openai get, model", "/v1/models/m", false, testKey, 200, "m", "arn:aws:bedrock:eu-west-1::foundation-model/m"},
		{"openai get, unknown", "/v1/models/eu.nope", false, testKey, 404, "", ""},
		{"openai list, bad key", "/v1/models", false, "sk-wrong", 401, "", ""},
		{"anthropic list", "/v1/models?limit=2", true, testKey, 200, "", ""},
		{"anthropic get", "/v1/models/eu.m", true, testKey, 200, "eu.m", "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m"},
		{"anthropic get, unknown", "/v1/models/eu.nope", true, testKey, 404, "", ""},
		{"anthropic list, bad limit", "/v1/models?limit=0", true, testKey, 400, "", ""},
		{"anthropic list, bad lifecycle", "/v1/models?lifecycle[]=bogus", true, testKey, 400, "", ""},
		{"anthropic list, bad key", "/v1/models", true, "sk-wrong", 401, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tc.path, nil)
			if tc.anthropic {
				r.Header.Set("x-api-key", tc.key)
				r.Header.Set("anthropic-version", "2023-06-01")
			} else {
				r.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got := recs.take() // recorded before the answer was sent
			if resp.StatusCode != tc.status || len(got) != 1 {
				t.Fatalf("status %d with %d records, want %d with one", resp.StatusCode, len(got), tc.status)
			}
			rec := got[0]
			if rec.Operation != gateway.OpListModels || rec.Status != tc.status || rec.RequestID != resp.Header.Get(gateway.HeaderRequestID) ||
				rec.ProfileID != tc.profileID || rec.ProfileARN != tc.arn || (tc.status == 200) != (rec.ErrorCode == "") {
				t.Errorf("record %s status %d request %s profile %q %q error %q; want %s %d %s %q %q",
					rec.Operation, rec.Status, rec.RequestID, rec.ProfileID, rec.ProfileARN, rec.ErrorCode,
					gateway.OpListModels, tc.status, resp.Header.Get(gateway.HeaderRequestID), tc.profileID, tc.arn)
			}
		})
	}
}
