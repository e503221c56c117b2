package mockllm

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzBedrockRequestMetadata: whatever a client sends as InvokeModel's
// metadata header or Converse's body, the Bedrock face reads metadata
// within Bedrock's limits or refuses it with a message naming where it
// was, bounded; it never ignores a Converse requestMetadata it cannot read.
func FuzzBedrockRequestMetadata(f *testing.F) {
	for _, s := range []string{`{"team":"claims"}`, `{}`, `null`, `[]`, `{"k":1}`, `{"k;":"v"}`, `{"a":"b","a":"c"}`, `"x"`, `["x"]`, `{`} {
		f.Add(s, true)
		f.Add(`{"messages":[],"requestMetadata":`+s+`}`, false)
	}
	f.Fuzz(func(t *testing.T, v string, invoke bool) {
		h, body, op, where := http.Header{}, []byte(v), "converse", "requestMetadata"
		if invoke {
			h.Set(headerRequestMetadata, v)
			body, op, where = nil, "invoke", headerRequestMetadata
		}
		md, err := bedrockRequestMetadata(op, h, body)
		if err != nil {
			if md != nil || !strings.HasPrefix(err.Error(), where) || len(err.Error()) > 1024 {
				t.Fatalf("error %.200q with metadata %v", err, md)
			}
			return
		}
		if inference.ValidateMetadata(md) != nil {
			t.Fatalf("accepted metadata %v", md)
		}
		// A Converse body's requestMetadata of another type than an
		// object ({"k":1}, ["x"], "x") is refused, not ignored.
		var c struct {
			RequestMetadata json.RawMessage `json:"requestMetadata"`
		}
		if !invoke && md == nil && json.Unmarshal(body, &c) == nil && len(c.RequestMetadata) > 0 && string(c.RequestMetadata) != "null" {
			t.Fatalf("requestMetadata %s ignored", c.RequestMetadata)
		}
	})
}
