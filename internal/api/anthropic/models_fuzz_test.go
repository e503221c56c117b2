package anthropic

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzModelListPage: whatever query a caller sends GET /v1/models, the
// page is a 400 naming a parameter (or saying one has no name), or a 200 whose entries are a run of
// the list, at most limit of them, with first_id and last_id its ends.
func FuzzModelListPage(f *testing.F) {
	for _, q := range []string{"", "limit=1", "limit=1&after_id=b", "before_id=c&limit=2", "lifecycle[]=active&beta=true",
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
