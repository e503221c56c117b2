package gateway

import (
	"context"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

func TestReadServiceTier(t *testing.T) {
	t.Parallel()
	hdr := func(v string) http.Header { return http.Header{"X-Amzn-Bedrock-Service-Tier": {v}} }
	tests := []struct {
		name    string
		h       http.Header
		body    string
		want    inference.ServiceTier
		field   string
		invalid string
	}{
		{"nothing", nil, `{"model":"m"}`, inference.TierDefault, "", ""},
		{"bedrock header", hdr("priority"), `{"model":"m"}`, inference.TierPriority, HeaderBedrockServiceTier, ""},
		{"header and body agree", hdr("flex"), `{"service_tier":"flex"}`, inference.TierFlex, HeaderBedrockServiceTier, ""},
		{"header and an auto body", hdr("priority"), `{"service_tier":"auto"}`, inference.TierPriority, HeaderBedrockServiceTier, ""},
		{"openai priority", nil, `{"model":"m","service_tier":"priority"}`, inference.TierPriority, "service_tier", ""},
		{"openai flex", nil, `{"service_tier":"flex"}`, inference.TierFlex, "service_tier", ""},
		{"openai auto", nil, `{"service_tier":"auto"}`, inference.TierDefault, "service_tier", ""},
		{"openai scale is reserved capacity: default", nil, `{"service_tier":"scale"}`, inference.TierDefault, "service_tier", ""},
		{"anthropic standard_only", nil, `{"service_tier":"standard_only"}`, inference.TierDefault, "service_tier", ""},
		{"converse", nil, `{"messages":[],"serviceTier":{"type":"priority"}}`, inference.TierPriority, "serviceTier.type", ""},
		{"converse reserved overflows to default", nil, `{"serviceTier":{"type":"reserved"}}`, inference.TierDefault, "serviceTier.type", ""},
		{"unknown header", hdr("gold"), ``, inference.TierDefault, HeaderBedrockServiceTier, "gold"},
		{"unknown body", nil, `{"service_tier":"Priority"}`, inference.TierDefault, "service_tier", "Priority"},
		{"long value cut", nil, `{"service_tier":"` + strings.Repeat("x", 100) + `"}`, inference.TierDefault, "service_tier", strings.Repeat("x", 32) + "…[68 more bytes]"},
		{"wrong type is no tier", nil, `{"service_tier":5}`, inference.TierDefault, "", ""},
		{"the word in a prompt is no tier", nil, `{"messages":[{"content":"my service_tier"}]}`, inference.TierDefault, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ReadServiceTier(tc.h, []byte(tc.body))
			if got.Conflict != nil {
				t.Fatalf("conflict %+v", got.Conflict)
			}
			if got.Tier != tc.want || got.Field != tc.field || got.Invalid != tc.invalid {
				t.Errorf("ReadServiceTier = %+v, want tier %q field %q invalid %q", got, tc.want, tc.field, tc.invalid)
			}
			if (got.err() != nil) != (tc.invalid != "") {
				t.Errorf("err() = %v, want an error only for an invalid tier", got.err())
			}
		})
	}
}

// TestServiceTierConflict: a header and a body that ask for different
// tiers are refused (400) naming both; the gateway never admits one tier
// while Bedrock is asked for the other.
func TestServiceTierConflict(t *testing.T) {
	t.Parallel()
	hdr := func(v string) http.Header { return http.Header{"X-Amzn-Bedrock-Service-Tier": {v}} }
	for _, tc := range []struct {
		name, h, body, msg string
	}{
		{"converse", "priority", `{"serviceTier":{"type":"flex"}}`,
			`X-Amzn-Bedrock-Service-Tier: "priority" and serviceTier.type: "flex" ask for different service tiers`},
		{"openai", "priority", `{"service_tier":"flex"}`, `X-Amzn-Bedrock-Service-Tier: "priority" and service_tier: "flex"`},
		{"anthropic standard_only", "priority", `{"service_tier":"standard_only"}`, `and service_tier: "standard_only"`},
		{"reserved is not default to Bedrock", "default", `{"serviceTier":{"type":"reserved"}}`, `"default" and serviceTier.type: "reserved"`},
		{"default header, priority body", "default", `{"service_tier":"priority"}`, `"default" and service_tier: "priority"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ReadServiceTier(hdr(tc.h), []byte(tc.body))
			e, ok := got.err().(*inference.Error)
			if !ok || got.Conflict == nil {
				t.Fatalf("ReadServiceTier = %+v, err %v; want a conflict", got, got.err())
			}
			if e.Kind != inference.KindInvalidRequest || e.Code != "invalid_service_tier" || e.Param != got.Conflict.Field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error %+v, want a 400 containing %q", e, tc.msg)
			}
		})
	}
}

// FuzzReadServiceTier: whatever a caller sends, the tier is one of the
// three and an echoed value is bounded.
func FuzzReadServiceTier(f *testing.F) {
	f.Add("priority", []byte(`{"service_tier":"flex"}`))
	f.Add("", []byte(`{"serviceTier":{"type":"reserved"}}`))
	f.Add("", []byte(`{"service_tier":"\u00ff\u0000"}`))
	f.Add("flex", []byte(`{"service_tier":"flex","serviceTier":{"type":"priority"}}`))
	f.Fuzz(func(t *testing.T, h string, body []byte) {
		read := ReadServiceTier(http.Header{"X-Amzn-Bedrock-Service-Tier": {h}}, body)
		for _, d := range []inference.Dialect{inference.DialectUnknown, inference.DialectConverse, inference.DialectOpenAIChat, inference.DialectAnthropic} {
			got := read.forDialect(d)
			checkFuzzedTier(t, got)
			if d == inference.DialectConverse && got.Field == "service_tier" {
				t.Fatal("a Converse body's service_tier was read")
			}
			if d != inference.DialectConverse && d != inference.DialectUnknown && got.Field == "serviceTier.type" {
				t.Fatal("another API's serviceTier was read")
			}
		}
	})
}

// checkFuzzedTier is FuzzReadServiceTier's check of one reading.
func checkFuzzedTier(t *testing.T, got RequestedTier) {
	{
		switch got.Tier {
		case inference.TierDefault, inference.TierPriority, inference.TierFlex:
		default:
			t.Fatalf("tier %q", got.Tier)
		}
		if len(got.Invalid) > maxTierEcho+32 || got.Conflict != nil && (len(got.Conflict.Header) > maxTierEcho+32 || len(got.Conflict.Value) > maxTierEcho+32) {
			t.Fatalf("echo of %d bytes", len(got.Invalid))
		}
		if e := got.err(); e != nil && !utf8.ValidString(strings.ToValidUTF8(e.Error(), "")) {
			t.Fatal("invalid message")
		}
	}
}

// tieredTopology is engineTopology with every deployment declaring
// priority and flex (service_tiers).
var tieredTopology = strings.ReplaceAll(engineTopology, "backend: { type: mock } }", "backend: { type: mock }, service_tiers: [priority, flex] }")

// TestServiceTierServed: the served tier is in the outcome's headers and the
// record; an unknown tier is a 400 that names the field, recorded once.
func TestServiceTierServed(t *testing.T) {
	t.Parallel()
	e := newEngineWith(t, tieredTopology, "")
	call := func(id string, tier RequestedTier) (*Outcome, error) {
		return e.g.Invoke(t.Context(), &Call{RequestID: id, Operation: OpChatCompletions, Principal: e.principal, ServiceTier: tier,
			Request: &inference.Request{Model: "eu.m", Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hello")}}})
	}
	out, err := call("p", ReadServiceTier(http.Header{"X-Amzn-Bedrock-Service-Tier": {"priority"}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Header.Get(HeaderServiceTier); got != "priority" {
		t.Errorf("%s = %q, want priority", HeaderServiceTier, got)
	}
	if got := e.recorder.last(t).ServiceTier; got != "priority" {
		t.Errorf("record ServiceTier = %q, want priority", got)
	}
	bedrock := http.Header{}
	CopyServiceTier(bedrock, out.Header)
	if bedrock.Get(HeaderBedrockServiceTier) != "priority" || bedrock.Get(HeaderServiceTier) != "priority" {
		t.Errorf("CopyServiceTier = %v, want both headers", bedrock)
	}
	out, err = call("d", RequestedTier{})
	if err != nil || out.Header.Get(HeaderServiceTier) != "default" {
		t.Errorf("no tier asked: %v, header %q; want served as default", err, out.Header.Get(HeaderServiceTier))
	}
	before := e.records()
	_, err = call("bad", ReadServiceTier(nil, []byte(`{"service_tier":"gold"}`)))
	if ie := inference.AsError(err); ie.Kind != inference.KindInvalidRequest || ie.Param != "service_tier" || !strings.Contains(ie.Message, `service_tier: "gold"`) {
		t.Errorf("unknown tier = %v, want 400 naming service_tier", err)
	}
	if e.records() != before+1 {
		t.Errorf("%d records for the refused request, want 1", e.records()-before)
	}
	// A request a front end refuses (here, an unparsable body) is
	// recorded with the tier it asked for.
	e.g.Reject(t.Context(), &Call{RequestID: "early", Operation: OpChatCompletions, ServiceTier: ReadServiceTier(http.Header{"X-Amzn-Bedrock-Service-Tier": {"flex"}}, nil)},
		&inference.Error{Kind: inference.KindInvalidRequest, Message: "bad body"})
	if got := e.recorder.last(t).ServiceTier; got != "flex" {
		t.Errorf("refused early: record ServiceTier = %q, want flex", got)
	}
}

// TestPriorityOvertakesDefault: at a saturated deployment a priority request
// that arrives after a default one is served first; then the default one.
// A flex request does not wait at all.
func TestPriorityOvertakesDefault(t *testing.T) {
	t.Parallel()
	e, busy := newSaturatedEngine(t)
	var mu sync.Mutex
	var served []string
	e.b.serve = func(ctx context.Context, region string, n int, req *inference.Request) (*inference.Response, inference.Stream, error) {
		mu.Lock()
		served = append(served, req.Messages[0].Text())
		mu.Unlock()
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil, nil
	}
	invoke := func(id string, tier inference.ServiceTier) error {
		_, err := e.g.Invoke(t.Context(), &Call{RequestID: id, Operation: OpChatCompletions, Principal: e.principal,
			Request: &inference.Request{Model: "eu.m", ServiceTier: tier, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, id)}}})
		return err
	}
	// Flex: no spare capacity, so 429 at once, without queueing.
	if err := invoke("flex", inference.TierFlex); inference.AsError(err).Kind != inference.KindThrottled || !strings.Contains(inference.AsError(err).Message, "spare capacity") {
		t.Fatalf("flex at saturation = %v, want 429", err)
	}
	done := make(chan error, 2)
	go func() { done <- invoke("default", inference.TierDefault) }()
	e.queued(t)
	go func() { done <- invoke("priority", inference.TierPriority) }()
	waitQueue(t, e, 2)
	e.g.observe(busy[0], routing.Outcome{Kind: routing.Success, TTFT: 1})
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("queued request = %v, want served", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(served, ",") != "priority,default" {
		t.Errorf("served in order %v, want priority before default", served)
	}
}

// waitQueue waits (a hang guard only) until n requests wait in the queue.
func waitQueue(t *testing.T, e *engine, n int) {
	t.Helper()
	for e.g.Routing().Queue.Len() < n {
		if t.Context().Err() != nil {
			t.Fatal("test ended")
		}
		runtime.Gosched()
	}
}

// TestQuotaRequestPoolAndTier: the quota hears the pool of the profile
// called (in-region for a bare model id, geographic for a geography
// profile, global for a global one), the source region and the tier, at
// the source and, for a forwarded job, at the destination.
func TestQuotaRequestPoolAndTier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model string
		tier  inference.ServiceTier
		pool  string
	}{
		{"m", inference.TierDefault, PoolInRegion},
		{"eu.m", inference.TierFlex, PoolGeographic},
		{"global.m", inference.TierPriority, PoolGlobal},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, "")
			_, err := e.g.Invoke(t.Context(), &Call{RequestID: "q", Operation: OpChatCompletions, Principal: e.principal,
				Request: &inference.Request{Model: tc.model, ServiceTier: tc.tier, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}}})
			if err != nil {
				t.Fatal(err)
			}
			e.quota.mu.Lock()
			reqs := slices.Clone(e.quota.requests)
			e.quota.mu.Unlock()
			if len(reqs) == 0 {
				t.Fatal("the quota heard nothing")
			}
			if r := reqs[0]; r.Pool != tc.pool || r.SourceRegion != "eu-west-1" || r.Tier != tc.tier {
				t.Errorf("QuotaRequest %+v, want pool %s from eu-west-1, tier %s", r, tc.pool, tc.tier)
			}
		})
	}
	t.Run("forwarded", func(t *testing.T) {
		t.Parallel()
		e := newEngineWith(t, tieredTopology, "")
		job := &Job{RequestID: "fwd", Operation: OpChatCompletions, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
			ProfileID: "eu.m", Model: "m", Principal: e.principal, Request: &inference.Request{Model: "eu.m", ServiceTier: inference.TierFlex}}
		if _, err := e.g.ServeForwarded(t.Context(), job); err != nil {
			t.Fatal(err)
		}
		e.quota.mu.Lock()
		defer e.quota.mu.Unlock()
		if r := e.quota.requests[len(e.quota.requests)-1]; r.Deployment != "eu-west-1/m" || r.Pool != PoolGeographic || r.SourceRegion != "eu-central-1" || r.Tier != inference.TierFlex {
			t.Errorf("destination QuotaRequest %+v, want eu-west-1/m, geographic from eu-central-1, flex", r)
		}
		if got := e.recorder.last(t).ServiceTier; got != "flex" {
			t.Errorf("destination record ServiceTier = %q, want flex", got)
		}
	})
}

// TestWithTierAllocs: naming the served tier on an answer's headers
// allocates nothing (the values are made once), sets what h.Set sets, and
// a later Add on the field does not write into the shared value.
func TestWithTierAllocs(t *testing.T) {
	for _, tier := range []inference.ServiceTier{"", inference.TierDefault, inference.TierPriority, inference.TierFlex} {
		h, want := http.Header{}, http.Header{}
		withTier(h, tier)
		want.Set(HeaderServiceTier, tier.String())
		if !reflect.DeepEqual(h, want) {
			t.Errorf("withTier(%q) = %v, want %v", tier, h, want)
		}
		h.Add(HeaderServiceTier, "added")
		if again := withTier(http.Header{}, tier); !reflect.DeepEqual(again, want) {
			t.Errorf("withTier(%q) after an Add to an earlier answer = %v, want %v", tier, again, want)
		}
	}
	h := http.Header{}
	if n := testing.AllocsPerRun(100, func() { withTier(h, inference.TierPriority) }); n != 0 {
		t.Errorf("withTier allocates %v times, want 0", n)
	}
}

// TestUndeclaredTierServedAsDefault: a deployment that declares no
// service_tiers is not asked for priority or flex (its upstream may refuse
// them), so a request admitted in one is reported as served in the
// default tier: x-meridian-service-tier, the Bedrock header, the audit
// record and the tier metrics say default, while the quota (and the
// admission queue) still hear the caller's tier. A deployment that
// declares only flex serves flex and reports priority as default. At the
// destination of a forwarded job, the record says the same.
func TestUndeclaredTierServedAsDefault(t *testing.T) {
	t.Parallel()
	flexOnly := strings.ReplaceAll(engineTopology, "backend: { type: mock } }", "backend: { type: mock }, service_tiers: [flex] }")
	for _, tc := range []struct {
		name  string
		topo  string
		asked inference.ServiceTier
		want  string
	}{
		{"undeclared priority", engineTopology, inference.TierPriority, "default"},
		{"undeclared flex", engineTopology, inference.TierFlex, "default"},
		{"flex only, priority", flexOnly, inference.TierPriority, "default"},
		{"flex only, flex", flexOnly, inference.TierFlex, "flex"},
		{"declared priority", tieredTopology, inference.TierPriority, "priority"},
		{"undeclared default", engineTopology, inference.TierDefault, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngineWith(t, tc.topo, "")
			out, err := e.g.Invoke(t.Context(), &Call{RequestID: "u", Operation: OpChatCompletions, Principal: e.principal,
				ServiceTier: ReadServiceTier(http.Header{HeaderBedrockServiceTier: {string(tc.asked)}}, nil),
				Request:     &inference.Request{Model: "eu.m", Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Header.Get(HeaderServiceTier); got != tc.want {
				t.Errorf("%s = %q, want %s", HeaderServiceTier, got, tc.want)
			}
			bedrock := http.Header{}
			CopyServedTier(bedrock, out)
			if got := bedrock.Get(HeaderBedrockServiceTier); got != tc.want {
				t.Errorf("%s = %q, want %s", HeaderBedrockServiceTier, got, tc.want)
			}
			if got := e.recorder.last(t).ServiceTier; got != tc.want {
				t.Errorf("record ServiceTier = %q, want %s", got, tc.want)
			}
			e.quota.mu.Lock()
			q := e.quota.requests[0]
			e.quota.mu.Unlock()
			if q.Tier != tc.asked {
				t.Errorf("quota heard tier %s, want the caller's %s", q.Tier, tc.asked)
			}
			job := &Job{RequestID: "fwd", Operation: OpChatCompletions, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
				ProfileID: "eu.m", Model: "m", Principal: e.principal, Request: &inference.Request{Model: "eu.m", ServiceTier: tc.asked}}
			if _, err := e.g.ServeForwarded(t.Context(), job); err != nil {
				t.Fatal(err)
			}
			if got := e.recorder.last(t).ServiceTier; got != tc.want {
				t.Errorf("destination record ServiceTier = %q, want %s", got, tc.want)
			}
		})
	}
}

// TestServedTierReportByEncoding: X-Amzn-Bedrock-Service-Tier names what
// Bedrock reported only for an answer served in this region; a forwarded
// answer's Response.ServiceTier (which only the link's JSON form carries)
// is not taken, so the header is the same whatever the link's encoding;
// a value that is no Bedrock tier name is never copied; a Converse body's
// own serviceTier.type is the answer's, local or forwarded.
func TestServedTierReportByEncoding(t *testing.T) {
	t.Parallel()
	local := Route{SourceRegion: "eu-west-1", InferenceRegion: "eu-west-1"}
	forwarded := Route{SourceRegion: "eu-west-1", InferenceRegion: "eu-central-1"}
	hdr := withTier(nil, inference.TierFlex)
	for _, tc := range []struct {
		name  string
		route Route
		resp  *inference.Response
		want  string
	}{
		{"local, Bedrock served default", local, &inference.Response{ServiceTier: "default"}, "default"},
		{"forwarded, JSON form carries default", forwarded, &inference.Response{ServiceTier: "default"}, "flex"},
		{"forwarded, compact form carries none", forwarded, &inference.Response{}, "flex"},
		{"local, junk", local, &inference.Response{ServiceTier: "gold\r\nX: y"}, "flex"},
		{"forwarded Converse body", forwarded, &inference.Response{Dialect: inference.DialectConverse, Body: []byte(`{"serviceTier":{"type":"default"}}`)}, "default"},
		{"local Converse body", local, &inference.Response{Dialect: inference.DialectConverse, Body: []byte(`{"serviceTier":{"type":"default"}}`)}, "default"},
	} {
		dst := http.Header{}
		CopyServedTier(dst, &Outcome{Header: hdr, Route: tc.route, Response: tc.resp})
		if got := dst.Get(HeaderBedrockServiceTier); got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, HeaderBedrockServiceTier, got, tc.want)
		}
		if got := dst.Get(HeaderServiceTier); got != "flex" {
			t.Errorf("%s: %s = %q, want flex (the tier the upstream was asked for)", tc.name, HeaderServiceTier, got)
		}
	}
}

// TestReadServiceTierDialect: once the body's dialect is known, only its
// own field asks for a tier: a Converse body's service_tier is not read
// (its serviceTier.type is what Bedrock reads), another API's serviceTier
// is not either; a body value that names no tier is refused even beside a
// valid header.
func TestReadServiceTierDialect(t *testing.T) {
	t.Parallel()
	both := `{"messages":[],"service_tier":"flex","serviceTier":{"type":"priority"}}`
	for _, tc := range []struct {
		name, header, body string
		d                  inference.Dialect
		want               inference.ServiceTier
		field, invalid     string
		conflict           bool
	}{
		{"converse reads serviceTier.type only", "", both, inference.DialectConverse, inference.TierPriority, "serviceTier.type", "", false},
		{"converse, header flex disagrees with serviceTier.type", "flex", both, inference.DialectConverse, inference.TierFlex, HeaderBedrockServiceTier, "", true},
		{"converse, service_tier alone asks nothing", "", `{"service_tier":"flex"}`, inference.DialectConverse, inference.TierDefault, "", "", false},
		{"openai reads service_tier only", "", both, inference.DialectOpenAIChat, inference.TierFlex, "service_tier", "", false},
		{"anthropic, serviceTier alone asks nothing", "", `{"serviceTier":{"type":"priority"}}`, inference.DialectAnthropic, inference.TierDefault, "", "", false},
		{"header flex, body gold", "flex", `{"serviceTier":{"type":"gold"}}`, inference.DialectConverse, inference.TierDefault, "serviceTier.type", "gold", false},
		{"header priority, body Flex", "priority", `{"service_tier":"Flex"}`, inference.DialectOpenAIChat, inference.TierPriority, "service_tier", "Flex", false},
		{"header and body agree", "flex", `{"service_tier":"flex"}`, inference.DialectOpenAIChat, inference.TierFlex, HeaderBedrockServiceTier, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set(HeaderBedrockServiceTier, tc.header)
			}
			got := ReadServiceTier(h, []byte(tc.body)).forDialect(tc.d)
			if (got.Conflict != nil) != tc.conflict {
				t.Fatalf("conflict %+v, want %v", got.Conflict, tc.conflict)
			}
			if tc.conflict {
				return
			}
			if got.Field != tc.field || got.Invalid != tc.invalid || (tc.invalid == "" && got.Tier != tc.want) {
				t.Errorf("= %+v, want tier %s field %q invalid %q", got, tc.want, tc.field, tc.invalid)
			}
			if (got.err() != nil) != (tc.invalid != "") {
				t.Errorf("err() = %v", got.err())
			}
		})
	}
}
