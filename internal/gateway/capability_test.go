package gateway

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// capabilityTopology is engineTopology with the capabilities of m's EU
// deployments replaced: west, central and north are appended in order.
func capabilityTopology(west, central, north string) string {
	topo := engineTopology
	for _, r := range []struct{ region, caps string }{{"eu-west-1", west}, {"eu-central-1", central}, {"eu-north-1", north}} {
		if r.caps == "" {
			continue
		}
		old := "{ model: m, region: " + r.region + ", backend: { type: mock } }"
		topo = strings.Replace(topo, old, "{ model: m, region: "+r.region+", backend: { type: mock }, capabilities: "+r.caps+" }", 1)
	}
	return topo
}

// TestCapabilityRouting: a request is sent only to deployments that have
// every capability it uses, and a text-generation request never to an
// embeddings-only deployment; when no destination the request may use can
// serve it, the caller gets a 400 naming the field, no destination is
// tried, and the refusal is recorded once.
func TestCapabilityRouting(t *testing.T) {
	t.Parallel()
	chat := func() *inference.Request {
		return &inference.Request{Model: "eu.m", Dialect: inference.DialectOpenAIChat, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hello")}}
	}
	withTools := func() *inference.Request {
		r := chat()
		r.Use(inference.FeatureTools, "tools")
		return r
	}
	embed := func() *inference.Request {
		r := &inference.Request{Model: "eu.m", Dialect: inference.DialectOpenAIEmbeddings, Body: []byte(`{"model":"eu.m","input":"x"}`)}
		r.Use(inference.FeatureEmbeddings, "input")
		return r
	}
	for _, tc := range []struct {
		name                 string
		west, central, north string
		req                  func() *inference.Request
		// serve lists where the request may be served; empty: refused
		// with a 400 naming param, whose message has want.
		serve       []string
		param, want string
	}{
		{name: "tools skip a deployment without them", west: "[json_schema]", req: withTools, serve: []string{"eu-central-1", "eu-north-1"}},
		{name: "tools nowhere", west: "[json_schema]", central: "[]", north: "[vision]", req: withTools, param: "tools",
			want: "uses tools, which no deployment of model m in the regions this request may use"},
		{name: "chat skips an embeddings-only deployment", west: "[embeddings]", req: chat, serve: []string{"eu-central-1", "eu-north-1"}},
		{name: "chat to an embedding model", west: "[embeddings]", central: "[embeddings]", north: "[embeddings]", req: chat, param: "model",
			want: "model m is an embedding model"},
		{name: "chat to a list naming chat", west: "[embeddings, chat]", central: "[embeddings]", north: "[embeddings]", req: chat, serve: []string{"eu-west-1"}},
		{name: "chat to a list of none", west: "[]", central: "[embeddings]", north: "[embeddings]", req: chat, serve: []string{"eu-west-1"}},
		{name: "embeddings only where declared", west: "[embeddings]", central: "[tools]", north: "[]", req: embed, serve: []string{"eu-west-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngineWith(t, capabilityTopology(tc.west, tc.central, tc.north), "")
			for i := range 6 {
				out, err := e.g.Invoke(t.Context(), &Call{RequestID: "r", Operation: OpChatCompletions, Principal: e.principal, Request: tc.req()})
				if len(tc.serve) == 0 {
					var ie *inference.Error
					if !errors.As(err, &ie) || ie.Kind != inference.KindInvalidRequest || ie.Param != tc.param || !strings.Contains(ie.Message, tc.want) {
						t.Fatalf("Invoke = %v, want a 400 on %q saying %q", err, tc.param, tc.want)
					}
					if tried := e.b.tried(); len(tried) != 0 {
						t.Fatalf("tried %v, want no destination", tried)
					}
					if rec := e.recorder.last(t); e.records() != 1 || rec.Status != 400 {
						t.Fatalf("%d records, last status %d; want one 400", e.records(), rec.Status)
					}
					return
				}
				if err != nil {
					t.Fatalf("request %d: Invoke = %v, want served in one of %v", i, err, tc.serve)
				}
				if !slices.Contains(tc.serve, out.Route.InferenceRegion) {
					t.Fatalf("request %d served in %s, want one of %v", i, out.Route.InferenceRegion, tc.serve)
				}
			}
			for _, r := range e.b.tried() {
				if !slices.Contains(tc.serve, r) {
					t.Errorf("tried %s, which cannot serve the request (want only %v)", r, tc.serve)
				}
			}
		})
	}
}

// TestCapabilityFilterIsNilForPlainChat: a request that uses no feature,
// on a model with no embeddings-only deployment, needs no routing filter
// (the common path pays nothing for capabilities).
func TestCapabilityFilterIsNilForPlainChat(t *testing.T) {
	t.Parallel()
	plain := &inference.Request{Model: "eu.m", Dialect: inference.DialectOpenAIChat}
	if f := newEngine(t, "").g.capable(plain, "m"); f != nil {
		t.Error("capable returned a filter for plain chat on a model every deployment of which generates text")
	}
	e := newEngineWith(t, capabilityTopology("[embeddings]", "", ""), "")
	f := e.g.capable(plain, "m")
	if f == nil || f("eu-west-1") || !f("eu-central-1") {
		t.Error("capable does not keep plain chat from the embeddings-only deployment")
	}
	// An InvokeModel body of another family may be an embedding model's
	// own (Titan, Cohere): it is not kept from an embeddings-only
	// deployment that speaks Bedrock.
	bedrockEmbed := strings.Replace(capabilityTopology("[embeddings]", "", ""), "region: eu-west-1, backend: { type: mock }", "region: eu-west-1, backend: { type: mock, api: bedrock }", 1)
	invoke := &inference.Request{Model: "eu.m", Dialect: inference.DialectInvoke}
	if f := newEngineWith(t, bedrockEmbed, "").g.capable(invoke, "m"); f == nil || !f("eu-west-1") {
		t.Error("an InvokeModel body of another family is kept from an embeddings-only Bedrock deployment")
	}
}

// TestEmbeddingModelRefusalNeedsADeployment: chat is refused as sent to an
// embedding model only when the regions it may use have deployments of
// the model and none generates text; with none there, routing answers,
// and the check neither refuses nor fails.
func TestEmbeddingModelRefusalNeedsADeployment(t *testing.T) {
	t.Parallel()
	e := newEngineWith(t, capabilityTopology("[embeddings]", "", ""), "")
	cfg := e.g.Config()
	for _, tc := range []struct {
		allowed []string
		want    bool
	}{
		{[]string{"eu-west-1"}, true},
		{[]string{"eu-west-1", "eu-central-1"}, false},
		{[]string{"ap-south-1"}, false},
		{[]string{"ap-south-1", "eu-west-1"}, true},
	} {
		if got := embeddingsOnlyIn(cfg, "m", tc.allowed); got != tc.want {
			t.Errorf("embeddingsOnlyIn(%v) = %v, want %v", tc.allowed, got, tc.want)
		}
	}
	plain := &inference.Request{Model: "eu.m", Dialect: inference.DialectOpenAIChat}
	if err := e.g.checkCapabilities(plain, "m", []string{"ap-south-1"}); err != nil {
		t.Errorf("checkCapabilities with no deployment where the request may go = %v, want nil (routing answers)", err)
	}
	if err := e.g.checkCapabilities(plain, "m", []string{"eu-west-1"}); err == nil || err.Param != "model" {
		t.Errorf("checkCapabilities on the embeddings-only deployment = %v, want a 400 on model", err)
	}
}
