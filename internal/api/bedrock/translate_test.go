package bedrock

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func TestExceptionFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         *inference.Error
		wantType   string
		wantStatus int
		wantStream string
	}{
		{&inference.Error{Kind: inference.KindInvalidRequest}, ExcValidation, 400, "validationException"},
		{&inference.Error{Kind: inference.KindPayloadTooLarge}, ExcValidation, 413, "validationException"},
		{&inference.Error{Kind: inference.KindUnauthenticated}, ExcUnrecognizedClient, 401, "internalServerException"},
		{&inference.Error{Kind: inference.KindUnauthenticated, Code: ExcAccessDenied}, ExcAccessDenied, 401, "internalServerException"},
		{&inference.Error{Kind: inference.KindPermissionDenied}, ExcAccessDenied, 403, "internalServerException"},
		{&inference.Error{Kind: inference.KindNotFound}, ExcResourceNotFound, 404, "internalServerException"},
		{&inference.Error{Kind: inference.KindTimeout}, ExcModelTimeout, 408, "modelStreamErrorException"},
		{&inference.Error{Kind: inference.KindThrottled}, ExcThrottling, 429, "throttlingException"},
		{&inference.Error{Kind: inference.KindUnavailable}, ExcServiceUnavailable, 503, "serviceUnavailableException"},
		{&inference.Error{Kind: inference.KindUpstream}, ExcModelError, 502, "modelStreamErrorException"},
		{&inference.Error{Kind: inference.KindInternal}, ExcInternalServer, 500, "internalServerException"},
		{&inference.Error{Kind: inference.KindInvalidRequest, Code: ExcConflict}, ExcConflict, 409, "validationException"},
	}
	for _, tc := range tests {
		x := exceptionFor(tc.in)
		if x.Type != tc.wantType || x.Status != tc.wantStatus {
			t.Errorf("exceptionFor(%s, code %q) = %s %d, want %s %d", tc.in.Kind, tc.in.Code, x.Type, x.Status, tc.wantType, tc.wantStatus)
		}
		if got := streamException(tc.in, false); got != tc.wantStream {
			t.Errorf("streamException(%s) = %s, want %s", tc.in.Kind, got, tc.wantStream)
		}
	}
	if got := streamException(&inference.Error{Kind: inference.KindTimeout}, true); got != "modelTimeoutException" {
		t.Errorf("streamException(timeout, invoke) = %s, want modelTimeoutException", got)
	}
}

func TestDecodeConverse(t *testing.T) {
	t.Parallel()
	half, one := 0.5, 0.9
	tests := []struct {
		name    string
		body    string
		want    *inference.Request
		wantErr string
	}{
		{name: "SDK bytes (bedrock-api.md)", body: `{"inferenceConfig":{"maxTokens":100,"stopSequences":["END"],"temperature":0.5,"topP":0.9},"messages":[{"content":[{"text":"hi"}],"role":"user"}],"system":[{"text":"be brief"}]}`,
			want: &inference.Request{Model: "m", MaxTokens: 100, Stop: []string{"END"}, Temperature: &half, TopP: &one, Messages: []inference.Message{
				inference.TextMessage(inference.RoleSystem, "be brief"), inference.TextMessage(inference.RoleUser, "hi")}}},
		{name: "cache point ignored", body: `{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"default"}}]}]}`,
			want: &inference.Request{Model: "m", Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "a")}}},
		{name: "no messages", body: `{}`, wantErr: "messages"},
		{name: "image", body: `{"messages":[{"role":"user","content":[{"image":{}}]}]}`, wantErr: `"image" is not supported`},
		{name: "two union members", body: `{"messages":[{"role":"user","content":[{"text":"a","image":{}}]}]}`, wantErr: "exactly one"},
		{name: "tools", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[]}}`, wantErr: "toolConfig"},
		{name: "bad role", body: `{"messages":[{"role":"system","content":[{"text":"a"}]}]}`, wantErr: "role"},
		{name: "temperature", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"temperature":1.5}}`, wantErr: "temperature"},
		{name: "maxTokens", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}}`, wantErr: "maxTokens"},
		{name: "not JSON", body: `{`, wantErr: "not valid JSON"},
		{name: "model fields", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"additionalModelRequestFields":{"top_k":5}}`, wantErr: "additionalModelRequestFields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeConverse("m", []byte(tc.body), false)
			if tc.wantErr != "" {
				var e *inference.Error
				if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest || !strings.Contains(e.Message, tc.wantErr) {
					t.Fatalf("decodeConverse(%s) error = %v, want invalid request mentioning %q", tc.body, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeConverse(%s): %v", tc.body, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("decodeConverse(%s) (-want +got):\n%s", tc.body, d)
			}
		})
	}
}

func TestDecodeAnthropic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    *inference.Request
		wantErr string
	}{
		{name: "strings and blocks", body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"system":[{"type":"text","text":"sys"}],"stop_sequences":["x"],"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
			want: &inference.Request{Model: "m", MaxTokens: 5, Stop: []string{"x"}, Messages: []inference.Message{
				inference.TextMessage(inference.RoleSystem, "sys"), inference.TextMessage(inference.RoleUser, "hi"), inference.TextMessage(inference.RoleAssistant, "ab")}}},
		{name: "no version", body: `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, wantErr: "anthropic_version"},
		{name: "other version", body: `{"anthropic_version":"2023-06-01","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, wantErr: "not supported"},
		{name: "no max_tokens", body: `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}]}`, wantErr: "max_tokens"},
		{name: "image block", body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, wantErr: "image"},
		{name: "tools", body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"tools":[{}],"messages":[{"role":"user","content":"hi"}]}`, wantErr: "tools"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAnthropic("m", []byte(tc.body), false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeAnthropic(%s) error = %v, want one mentioning %q", tc.body, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeAnthropic(%s): %v", tc.body, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("decodeAnthropic(%s) (-want +got):\n%s", tc.body, d)
			}
		})
	}
}

// checkDecoded holds for every request a decoder accepts.
func checkDecoded(t *testing.T, req *inference.Request, err error) {
	t.Helper()
	if err != nil {
		var e *inference.Error
		if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest || e.Message == "" {
			t.Fatalf("decoder error %v is not an invalid-request *inference.Error with a message", err)
		}
		return
	}
	users := 0
	for _, m := range req.Messages {
		if m.Role != inference.RoleSystem {
			users++
		}
	}
	if req.Model != "m" || users == 0 || req.MaxTokens < 0 {
		t.Fatalf("accepted request %+v has no conversation", req)
	}
	if _, err := json.Marshal(req); err != nil {
		t.Fatalf("accepted request does not marshal: %v", err)
	}
}

func FuzzDecodeConverse(f *testing.F) {
	f.Add([]byte(`{"inferenceConfig":{"maxTokens":100,"stopSequences":["END"],"temperature":0.5,"topP":0.9},"messages":[{"content":[{"text":"hi"}],"role":"user"}],"system":[{"text":"be brief"}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"default"}}]}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AA=="}}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeConverse("m", body, true)
		checkDecoded(t, req, err)
	})
}

func FuzzDecodeAnthropic(f *testing.F) {
	f.Add([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"system":"s","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeAnthropic("m", body, false)
		checkDecoded(t, req, err)
	})
}

// TestMergeDistributesProfiles: a profile created in one region's handler
// and its deletion reach another region's catalog through Records/Merge,
// the exchange the inter-region link carries.
func TestMergeDistributesProfiles(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	handler := func(region string) *Handler {
		g, err := gateway.New(gateway.Options{Region: region, Config: cfg, Authorizer: gateway.AllowAll{}})
		if err != nil {
			t.Fatal(err)
		}
		return New(g, Options{DataDir: t.TempDir(), Now: func() time.Time { return now }})
	}
	a, b := handler("eu-west-1"), handler("eu-central-1")
	rec := profilestore.Record{ID: "abc123def456", Name: "team-a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: now, UpdatedAt: now}
	if _, created, err := a.create(rec); err != nil || !created {
		t.Fatalf("create = %v, %v", created, err)
	}
	// The records travel inside a node's published state document, which
	// the node decodes once and merges into its registry (package node).
	if changed, err := b.Merge(a.Records()); err != nil || !changed {
		t.Fatalf("Merge(%+v) = %v, %v; want changed", a.Records(), changed, err)
	}
	res, err := b.g.Catalog().Resolve("eu-central-1", "abc123def456")
	if err != nil || len(res.Destinations) != 2 {
		t.Fatalf("Resolve in eu-central-1 after merge = %+v, %v", res, err)
	}
	if changed, _ := b.Merge(a.Records()); changed {
		t.Errorf("Merge of the same records changed the catalog again")
	}
	now = now.Add(time.Second)
	if _, err := a.delete("abc123def456"); err != nil {
		t.Fatal(err)
	}
	if changed, err := b.Merge(a.Records()); err != nil || !changed {
		t.Fatalf("Merge(tombstone) = %v, %v", changed, err)
	}
	if _, err := b.g.Catalog().Resolve("eu-central-1", "abc123def456"); err == nil {
		t.Errorf("deleted profile still resolves in eu-central-1")
	}
}
