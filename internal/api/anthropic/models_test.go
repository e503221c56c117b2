package anthropic_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	oa "github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"
)

// TestModelsThroughAnthropicSDK: GET /v1/models and /v1/models/{id}, asked
// by Anthropic's official client (which sends anthropic-version), answer
// Anthropic's shape, listing what OpenAI's client lists from the same
// node for the same key; paging (limit, after_id) walks the whole list,
// through client.Beta.Models and the lifecycle filter too;
// an unknown id and a bad key are Anthropic-shaped errors with request-id.
func TestModelsThroughAnthropicSDK(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)

	var want []string
	oc := oa.NewClient(oaoption.WithBaseURL(c.url("eu-west-1")+"/v1"), oaoption.WithAPIKey(c.key), oaoption.WithMaxRetries(0))
	olist, err := oc.Models.List(t.Context())
	if err != nil {
		t.Fatalf("openai Models.List: %v", err)
	}
	for _, m := range olist.Data {
		if m.Object != "model" {
			t.Errorf("openai entry %+v: object %q", m, m.Object)
		}
		want = append(want, m.ID)
	}
	if !slices.Contains(want, "eu.demo.oa") || !slices.Contains(want, "demo.oa") {
		t.Fatalf("openai list %v lacks eu.demo.oa or demo.oa", want)
	}

	for _, limit := range []int64{0, 1, 3, 1000} {
		params := anthropic.ModelListParams{}
		if limit > 0 {
			params.Limit = anthropic.Int(limit)
		}
		var got []string
		iter := client.Models.ListAutoPaging(t.Context(), params)
		for iter.Next() {
			m := iter.Current()
			if m.Type != "model" || m.DisplayName == "" || m.CreatedAt.IsZero() && m.JSON.CreatedAt.Raw() == "" {
				t.Errorf("limit %d: entry %+v lacks type, display_name or created_at", limit, m)
			}
			got = append(got, m.ID)
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("limit %d: Models.ListAutoPaging: %v", limit, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: anthropic list %v, want openai's %v", limit, got, want)
		}
	}

	// client.Beta.Models sends beta=true; the lifecycle filter goes as
	// lifecycle[].
	var got []string
	biter := client.Beta.Models.ListAutoPaging(t.Context(), anthropic.BetaModelListParams{Limit: anthropic.Int(2), Lifecycle: []string{"active"}})
	for biter.Next() && len(got) <= len(want) {
		got = append(got, biter.Current().ID)
	}
	if err := biter.Err(); err != nil || !slices.Equal(got, want) {
		t.Errorf("Beta.Models.ListAutoPaging, lifecycle active: %v (%v), want openai's %v", got, err, want)
	}

	page, err := client.Models.List(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 2 || !page.HasMore || page.FirstID != want[0] || page.LastID != want[1] {
		t.Errorf("first page of 2: %d entries, has_more %v, first %q last %q; want %v, has_more", len(page.Data), page.HasMore, page.FirstID, page.LastID, want[:2])
	}
	page, err = client.Models.List(t.Context(), anthropic.ModelListParams{BeforeID: anthropic.String(want[2]), Limit: anthropic.Int(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != want[1] || !page.HasMore {
		t.Errorf("page before %s: %+v, want [%s] with has_more", want[2], page.Data, want[1])
	}

	var resp *http.Response
	m, err := client.Models.Get(t.Context(), "eu.demo.oa", anthropic.ModelGetParams{}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatalf("Models.Get: %v", err)
	}
	if m.ID != "eu.demo.oa" || m.Type != "model" || m.DisplayName != "eu.demo.oa" || m.CreatedAt.Unix() != 0 {
		t.Errorf("Models.Get: %+v", m)
	}
	if id := resp.Header.Get("request-id"); id == "" || id != resp.Header.Get("x-meridian-request-id") {
		t.Errorf("request-id %q, x-meridian-request-id %q", id, resp.Header.Get("x-meridian-request-id"))
	}

	for _, tc := range []struct {
		name   string
		client anthropic.Client
		get    string
		params anthropic.ModelListParams
		status int
		typ    string
	}{
		{"unknown id", client, "eu.nope", anthropic.ModelListParams{}, 404, "not_found_error"},
		{"not callable here", client, "us.demo.oa", anthropic.ModelListParams{}, 404, "not_found_error"},
		{"bad key, get", c.client("eu-west-1", "mk-wrong"), "eu.demo.oa", anthropic.ModelListParams{}, 401, "authentication_error"},
		{"bad key, list", c.client("eu-west-1", "mk-wrong"), "", anthropic.ModelListParams{}, 401, "authentication_error"},
		{"limit out of range", client, "", anthropic.ModelListParams{Limit: anthropic.Int(1001)}, 400, "invalid_request_error"},
		{"unknown after_id", client, "", anthropic.ModelListParams{AfterID: anthropic.String("eu.nope")}, 400, "invalid_request_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.get != "" {
				_, err = tc.client.Models.Get(t.Context(), tc.get, anthropic.ModelGetParams{})
			} else {
				_, err = tc.client.Models.List(t.Context(), tc.params)
			}
			var ae *anthropic.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *anthropic.Error", err)
			}
			if ae.StatusCode != tc.status || string(ae.Type()) != tc.typ || ae.RequestID == "" {
				t.Errorf("status %d type %q request id %q, want %d %s and an id: %s", ae.StatusCode, ae.Type(), ae.RequestID, tc.status, tc.typ, ae.RawJSON())
			}
		})
	}
}

// TestModelsAnthropicShapeEmptyID: GET /v1/models/ (an empty id) asked
// with anthropic-version is a not_found_error, as OpenAI's shape answers
// it with a 404, not the list.
func TestModelsAnthropicShapeEmptyID(t *testing.T) {
	c := startCluster(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, c.url("eu-west-1")+"/v1/models/", nil)
	req.Header.Set("x-api-key", c.key)
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 404 || body.Type != "error" || body.Error.Type != "not_found_error" {
		t.Errorf("status %d body %+v (%v), want 404 not_found_error", resp.StatusCode, body, err)
	}
}
