package backend

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// decodedResponse is passThroughResponse's reading of raw through
// encoding/json alone: what the scanner must match.
func decodedResponse(raw []byte) (*inference.Response, error) {
	var id, model, usage []byte
	if !inference.Members(raw, func(k, v []byte) {
		switch string(k) {
		case "id":
			id = v
		case "model":
			model = v
		case "usage":
			usage = v
		}
	}) {
		return nil, errors.New("not a well-formed JSON object")
	}
	var head struct {
		ID    string
		Model string
		Usage *oaUsage
	}
	for _, f := range []struct {
		raw []byte
		dst any
	}{{id, &head.ID}, {model, &head.Model}, {usage, &head.Usage}} {
		if f.raw != nil {
			if err := json.Unmarshal(f.raw, f.dst); err != nil {
				return nil, err
			}
		}
	}
	out := &inference.Response{ID: head.ID, Model: head.Model}
	if head.Usage != nil {
		out.Usage = head.Usage.usage()
	}
	return out, nil
}

var passThroughSeeds = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}}}`,
	`{"id":null,"model":"m","usage":null}`,
	`{"id":"a\u0062","model":"M\"","usage":{"prompt_tokens":1.5}}`,
	`{"id":"x","usage":{"Prompt_Tokens":3}}`,
	`{"id":"x","usage":{"prompt_tokens":3,"prompt_tokens":4}}`,
	`{"id":"x","usage":{"prompt_tokens":1e2,"prompt_tokens_details":[]}}`,
	`{"id":1}`, `{"id":"` + "\x01" + `"}`, `{"id":tru}`, `{"usage":{"prompt_tokens":99999999999999999999}}`, `[]`, `{`,
}

// FuzzPassThroughResponse: the scanner reads a chat completion's id, model
// and usage as encoding/json does, and refuses what it refuses.
func FuzzPassThroughResponse(f *testing.F) {
	for _, s := range passThroughSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := passThroughResponse(raw, 0)
		want, wantErr := decodedResponse(raw)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json's %v", raw, err, wantErr)
		}
		if err != nil {
			return
		}
		if got.ID != want.ID || got.Model != want.Model || got.Usage != want.Usage || string(got.Body) != string(raw) {
			t.Fatalf("%q: read %+v, encoding/json reads %+v", raw, got, want)
		}
	})
}

// TestPassThroughResponseAllocs pins the allocations of reading a plain
// answer: the response, its id and model, and the usage.
func TestPassThroughResponseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	raw := []byte(passThroughSeeds[0])
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := passThroughResponse(raw, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("passThroughResponse allocates %v times, want at most 5", allocs)
	}
}

// BenchmarkPassThroughResponse compares reading an answer's id, model and
// usage with the scanner and with encoding/json.
func BenchmarkPassThroughResponse(b *testing.B) {
	raw := []byte(passThroughSeeds[0])
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := passThroughResponse(raw, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodedResponse(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
