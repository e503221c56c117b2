package anthropic

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzModelListPage: whatever query a caller sends GET /v1/models, the
// page is a 400 naming a parameter (or saying one has no name), or a 200 whose entries are a run of
// the shown entries (never a hidden one), at most limit of them, with first_id and last_id its ends.
func FuzzModelListPage(f *testing.F) {
	for _, q := range []string{"", "limit=1", "limit=1&after_id=b", "after_id=h&limit=1", "before_id=h", "before_id=z", "after_id=z", "before_id=c&limit=2", "lifecycle[]=active&beta=true",
		"lifecycle=active&lifecycle=bogus", "lifecycle[]=deprecated", "after_id=a&before_id=b", "limit=0", "limit=1001", "x=%zz", "=0"} {
		f.Add(q)
	}
	models := []Model{{ID: "a"}, {ID: "b", MaxInputTokens: 8, MaxTokens: 8}, {ID: "h", Hidden: true}, {ID: "c"}, {ID: "d"}, {ID: "z", Hidden: true}}
	ids := []string{"a", "b", "c", "d"} // shown; h and z never are
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/v1/models", nil)
		r.URL.RawQuery = query
		b, err := ModelListPage(r, models)
		if err != nil {
			if b != nil || err.Message == "" || err.Param == "" && !strings.Contains(err.Message, "has no name") {
				t.Fatalf("%q: refusal %+v with body %q", query, err, b)
			}
			return
		}
		var page modelPage
		if e := json.Unmarshal(b, &page); e != nil {
			t.Fatalf("%q: body %s: %v", query, b, e)
		}
		if len(page.Data) == 0 {
			if page.FirstID != nil || page.LastID != nil {
				t.Fatalf("%q: empty page with first/last ids: %s", query, b)
			}
			return
		}
		i := slices.Index(ids, page.Data[0].ID)
		for j, m := range page.Data {
			if i < 0 || i+j >= len(ids) || m.ID != ids[i+j] || m.Lifecycle != "active" {
				t.Fatalf("%q: page %s is not a run of %v", query, b, ids)
			}
		}
		if page.FirstID == nil || *page.FirstID != page.Data[0].ID || page.LastID == nil || *page.LastID != page.Data[len(page.Data)-1].ID {
			t.Fatalf("%q: first/last ids do not match the page: %s", query, b)
		}
	})
}

// TestModelListPageHiddenCursor: a cursor naming an entry the caller may
// no longer see (hidden since it got the cursor) pages from the entry's
// place in the catalog, as if it were shown, and the page never shows it;
// a get of it answers as for an unknown id; a cursor naming no entry at
// all is refused, as before.
func TestModelListPageHiddenCursor(t *testing.T) {
	t.Parallel()
	models := []Model{{ID: "a"}, {ID: "b"}, {ID: "h", Hidden: true}, {ID: "c"}, {ID: "d"}, {ID: "z", Hidden: true}}
	tests := []struct {
		query string
		want  []string // ids; nil for a refusal
		more  bool
	}{
		{"", []string{"a", "b", "c", "d"}, false},
		{"limit=2", []string{"a", "b"}, true},
		{"after_id=b&limit=1", []string{"c"}, true},
		{"after_id=h&limit=1", []string{"c"}, true},
		{"after_id=h", []string{"c", "d"}, false},
		{"before_id=h", []string{"a", "b"}, false},
		{"before_id=h&limit=1", []string{"b"}, true},
		{"before_id=c&limit=2", []string{"a", "b"}, false},
		{"after_id=z", []string{}, false},
		{"before_id=z&limit=1", []string{"d"}, true},
		{"after_id=nope", nil, false},
		{"before_id=nope", nil, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/v1/models", nil)
		r.URL.RawQuery = tc.query
		b, err := ModelListPage(r, models)
		if tc.want == nil {
			if err == nil || err.Kind != inference.KindInvalidRequest {
				t.Errorf("%q: %s, %v; want a 400", tc.query, b, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		var page modelPage
		if e := json.Unmarshal(b, &page); e != nil {
			t.Fatal(e)
		}
		got := []string{}
		for _, m := range page.Data {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, tc.want) || page.HasMore != tc.more {
			t.Errorf("%q: %v has_more %v; want %v has_more %v", tc.query, got, page.HasMore, tc.want, tc.more)
		}
	}
	if _, err := ModelEntry("h", "eu-west-1", models); err == nil {
		t.Error("ModelEntry(h) answered a hidden entry")
	}
	if b, err := ModelEntry("c", "eu-west-1", models); err != nil || !strings.Contains(string(b), `"id":"c"`) {
		t.Errorf("ModelEntry(c) = %s, %v", b, err)
	}
}
