package openai

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkModelsList measures GET /v1/models (OpenAI's shape) served by
// the handler, authentication included, over the nine entries of
// newPolicyModelsServer's topology, for an unrestricted key (every entry
// shown) and for a key restricted to one profile (every entry checked,
// one shown).
func BenchmarkModelsList(b *testing.B) {
	srv, recs := newPolicyModelsServer(b)
	h := srv.Config.Handler
	for _, bc := range []struct{ name, key string }{{"unrestricted", keyAll}, {"restricted", keyEUM}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
			r.Header.Set("Authorization", "Bearer "+bc.key)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				recs.take() // keep the test recorder from growing
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
