package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzModelListPage: whatever query a caller sends GET /v1/models, the
// page is a 400 naming a parameter (or saying one has no name), or a 200 whose entries are a run of
// the list, at most limit of them, with first_id and last_id its ends.
func FuzzModelListPage(f *testing.F) {
	for _, q := range []string{"", "limit=1", "limit=1&after_id=b", "after_id=h&limit=1", "before_id=h", "before_id=z", "after_id=z", "before_id=c&limit=2", "lifecycle[]=active&beta=true",
		"lifecycle=active&lifecycle=bogus", "lifecycle[]=deprecated", "after_id=a&before_id=b", "limit=0", "limit=1001", "x=%zz", "=0"} {
		f.Add(q)
	}
	models := []Model{{ID: "a"}, {ID: "b", MaxInputTokens: 8, MaxTokens: 8}, {ID: "c"}, {ID: "d"}}
	ids := []string{"a", "b", "c", "d"}
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

// TestModelListPageHiddenCursor: the list is built from what the caller
// may see (callable in internal/api/openai/models.go leaves out what it
// may not), so a cursor naming an entry hidden from the caller (h, z) is
// refused exactly as one naming no entry (nope, a made-up id of the same
// length): same status, parameter and message but for the echoed id, so
// that a cursor tells no more than the list.
func TestModelListPageHiddenCursor(t *testing.T) {
	t.Parallel()
	shown := []Model{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}} // h between b and c, and z last, are hidden
	for _, tc := range []struct{ param, hidden, unknown string }{
		{"after_id", "h", "n"},
		{"before_id", "h", "n"},
		{"after_id", "z", "y"},
		{"before_id", "z", "y"},
	} {
		answer := func(id string) string {
			r := httptest.NewRequest("GET", "/v1/models?limit=1&"+tc.param+"="+id, nil)
			b, err := ModelListPage(r, shown)
			if err == nil {
				return "200 " + string(b)
			}
			return fmt.Sprintf("%v %q %q %q", err.Kind, err.Param, err.Code, strings.TrimSuffix(err.Message, id)+"ID")
		}
		h, u := answer(tc.hidden), answer(tc.unknown)
		if h != u || !strings.Contains(h, `"`+tc.param+`: no model ID"`) {
			t.Errorf("%s=%s answers %s; %s=%s answers %s; want the same 400 naming %s", tc.param, tc.hidden, h, tc.param, tc.unknown, u, tc.param)
		}
	}
	if _, err := ModelEntry("h", "eu-west-1", shown); err == nil {
		t.Error("ModelEntry(h) answered an entry not shown")
	}
	if b, err := ModelEntry("c", "eu-west-1", shown); err != nil || !strings.Contains(string(b), `"id":"c"`) {
		t.Errorf("ModelEntry(c) = %s, %v", b, err)
	}
}
