package mockllm_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// startFeatures serves the simulator for the Bedrock feature tests: a
// manual clock (latencies are 0), six-token answers.
func startFeatures(t *testing.T) string {
	t.Helper()
	_, url := start(t, mockllm.Config{CompletionTokens: 6, Clock: newFakeClock()})
	return url
}

// bedrockEvents decodes an AWS event stream into one JSON object per
// event: a Converse event as {"<event type>": payload}, an InvokeModel
// chunk as the Anthropic (or Llama) event its bytes hold.
func bedrockEvents(t *testing.T, body []byte) []json.RawMessage {
	t.Helper()
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var out []json.RawMessage
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		typ := m.Headers.Get(":event-type").String()
		if typ == "chunk" {
			var c struct {
				Bytes string `json:"bytes"`
			}
			if err := json.Unmarshal(m.Payload, &c); err != nil {
				t.Fatalf("chunk %s: %v", m.Payload, err)
			}
			b, err := base64.StdEncoding.DecodeString(c.Bytes)
			if err != nil {
				t.Fatalf("chunk bytes %q: %v", c.Bytes, err)
			}
			out = append(out, b)
			continue
		}
		b, _ := json.Marshal(map[string]json.RawMessage{typ: m.Payload})
		out = append(out, b)
	}
	return out
}

// TestBedrockFeaturesGolden: each testdata/bedrock-features/<case> holds
// a request.http (the operation's request line, a blank line, the body)
// and the expected response.golden (status, Content-Type and X-Amzn-*
// headers, then the body, or a stream's events one a line). The cases
// cover tool choice, thinking and request metadata on Converse and
// InvokeModel, streaming and not. Run with -update to rewrite the golden
// files.
func TestBedrockFeaturesGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/bedrock-features/*")
	if len(dirs) == 0 {
		t.Fatal("no testdata/bedrock-features cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			url := startFeatures(t) // a server of its own: ids do not depend on the other cases
			in, err := os.ReadFile(filepath.Join(dir, "request.http"))
			if err != nil {
				t.Fatal(err)
			}
			line, body, _ := bytes.Cut(in, []byte("\n\n"))
			path, ok := strings.CutPrefix(string(line), "POST ")
			if !ok {
				t.Fatalf("request line %q", line)
			}
			resp, err := http.Post(url+path, "application/json", bytes.NewReader(bytes.TrimSuffix(body, []byte("\n"))))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			fmt.Fprintf(&got, "%d\n", resp.StatusCode)
			var keys []string
			for k := range resp.Header {
				if k == "Content-Type" || strings.HasPrefix(k, "X-Amzn-") {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(&got, "%s: %s\n", k, resp.Header.Get(k))
			}
			got.WriteString("\n")
			if resp.Header.Get("Content-Type") == "application/vnd.amazon.eventstream" {
				for _, e := range bedrockEvents(t, b) {
					fmt.Fprintf(&got, "%s\n", e)
				}
			} else {
				fmt.Fprintf(&got, "%s\n", b)
			}
			compareGolden(t, filepath.Join(dir, "response.golden"), got.String(), "POST "+path+" "+string(body))
		})
	}
}

// bedrockAnswer is what an answer holds, in either API and either form.
type bedrockAnswer struct {
	Thinking  bool     // a thinking block with a signature comes first
	Tools     []string // the tools called, in order
	Text      bool
	Stop      string
	OutTokens int
}

// readBedrockAnswer reduces a Converse or Anthropic answer, streamed or
// not, to a bedrockAnswer; it fails the test on a malformed shape (a
// thinking block that is not first or lacks its signature, a tool call
// whose input is not JSON).
func readBedrockAnswer(t *testing.T, anthropic, stream bool, body []byte) bedrockAnswer {
	t.Helper()
	var a bedrockAnswer
	thinking := func(i int, text, sig string) {
		if i != 0 || text == "" || sig == "" {
			t.Errorf("thinking block %d: %q, signature %q; want first, with both", i, text, sig)
		}
		a.Thinking = true
	}
	input := func(name, in string) {
		if !json.Valid([]byte(in)) {
			t.Errorf("tool %s input %q is not JSON", name, in)
		}
		a.Tools = append(a.Tools, name)
	}
	if !stream {
		if anthropic {
			var r struct {
				Content []struct {
					Type, Text, Thinking, Signature, Name string
					Input                                 json.RawMessage
				}
				StopReason string `json:"stop_reason"`
				Usage      struct {
					OutputTokens int `json:"output_tokens"`
				}
			}
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			for i, c := range r.Content {
				switch c.Type {
				case "thinking":
					thinking(i, c.Thinking, c.Signature)
				case "tool_use":
					input(c.Name, string(c.Input))
				case "text":
					a.Text = true
				}
			}
			a.Stop, a.OutTokens = r.StopReason, r.Usage.OutputTokens
			return a
		}
		var r struct {
			Output struct {
				Message struct {
					Content []struct {
						Text             *string
						ReasoningContent *struct {
							ReasoningText struct{ Text, Signature string }
						}
						ToolUse *struct {
							Name  string
							Input json.RawMessage
						}
					}
				}
			}
			StopReason string
			Usage      struct{ OutputTokens int }
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for i, c := range r.Output.Message.Content {
			switch {
			case c.ReasoningContent != nil:
				thinking(i, c.ReasoningContent.ReasoningText.Text, c.ReasoningContent.ReasoningText.Signature)
			case c.ToolUse != nil:
				input(c.ToolUse.Name, string(c.ToolUse.Input))
			case c.Text != nil:
				a.Text = true
			}
		}
		a.Stop, a.OutTokens = r.StopReason, r.Usage.OutputTokens
		return a
	}
	// A stream: assemble each block from its deltas.
	type block struct{ kind, name, text, sig, input string }
	blocks := map[int]*block{}
	var order []int
	at := func(i int) *block {
		if blocks[i] == nil {
			blocks[i] = &block{}
			order = append(order, i)
		}
		return blocks[i]
	}
	for _, raw := range bedrockEvents(t, body) {
		if anthropic {
			var e struct {
				Type         string
				Index        int
				ContentBlock struct{ Type, Name string } `json:"content_block"`
				Delta        struct {
					Type, Text, Thinking, Signature string
					PartialJSON                     string `json:"partial_json"`
					StopReason                      string `json:"stop_reason"`
				}
				Usage struct {
					OutputTokens int `json:"output_tokens"`
				}
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			switch e.Type {
			case "content_block_start":
				b := at(e.Index)
				b.kind, b.name = e.ContentBlock.Type, e.ContentBlock.Name
			case "content_block_delta":
				b := at(e.Index)
				b.text += e.Delta.Text + e.Delta.Thinking
				b.sig += e.Delta.Signature
				b.input += e.Delta.PartialJSON
			case "message_delta":
				a.Stop, a.OutTokens = e.Delta.StopReason, e.Usage.OutputTokens
			}
			continue
		}
		var e struct {
			ContentBlockStart *struct {
				ContentBlockIndex int
				Start             struct{ ToolUse struct{ Name string } }
			}
			ContentBlockDelta *struct {
				ContentBlockIndex int
				Delta             struct {
					Text             *string
					ReasoningContent *struct{ Text, Signature string }
					ToolUse          *struct{ Input string }
				}
			}
			MessageStop *struct{ StopReason string }
			Metadata    *struct{ Usage struct{ OutputTokens int } }
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		switch {
		case e.ContentBlockStart != nil:
			b := at(e.ContentBlockStart.ContentBlockIndex)
			b.kind, b.name = "tool_use", e.ContentBlockStart.Start.ToolUse.Name
		case e.ContentBlockDelta != nil:
			b, d := at(e.ContentBlockDelta.ContentBlockIndex), e.ContentBlockDelta.Delta
			switch {
			case d.ReasoningContent != nil:
				b.kind = "thinking"
				b.text += d.ReasoningContent.Text
				b.sig += d.ReasoningContent.Signature
			case d.ToolUse != nil:
				b.input += d.ToolUse.Input
			case d.Text != nil:
				b.kind = "text"
				b.text += *d.Text
			}
		case e.MessageStop != nil:
			a.Stop = e.MessageStop.StopReason
		case e.Metadata != nil:
			a.OutTokens = e.Metadata.Usage.OutputTokens
		}
	}
	for i, idx := range order {
		if idx != i {
			t.Errorf("block indexes %v are not 0, 1, …", order)
		}
		switch b := blocks[idx]; b.kind {
		case "thinking":
			thinking(i, b.text, b.sig)
		case "tool_use":
			input(b.name, b.input)
		case "text":
			a.Text = true
		}
	}
	return a
}

// TestBedrockToolChoiceAndThinking: the Bedrock face honours tool choice
// as the OpenAI face honours tool_choice and parallel_tool_calls (one
// call per offered tool; the named tool alone; the first alone when
// parallel use is disabled; none for none) and answers a request that
// enables thinking with a signed thinking block first, counted in the
// output tokens; on Converse and InvokeModel, streaming and not, alike.
func TestBedrockToolChoiceAndThinking(t *testing.T) {
	t.Parallel()
	url := startFeatures(t)
	const (
		anthropicTools = `"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"get_time","input_schema":{"type":"object","properties":{"tz":{"type":"string"}}}}]`
		converseTools  = `"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}}}}}},{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object","properties":{"tz":{"type":"string"}}}}}}]`
		thinkingTokens = 11 // (len(mockReasoning)+3)/4
	)
	both := []string{"get_weather", "get_time"}
	tests := []struct {
		name               string
		anthropic, convers string // the members after messages; "" skips the API
		want               bedrockAnswer
		model              string // the model id; "" is Claude's
	}{
		{name: "tools, no choice",
			anthropic: anthropicTools, convers: `"toolConfig":{` + converseTools + `}`,
			want: bedrockAnswer{Tools: both, Stop: "tool_use"}},
		{name: "auto",
			anthropic: anthropicTools + `,"tool_choice":{"type":"auto"}`, convers: `"toolConfig":{` + converseTools + `,"toolChoice":{"auto":{}}}`,
			want: bedrockAnswer{Tools: both, Stop: "tool_use"}},
		{name: "any",
			anthropic: anthropicTools + `,"tool_choice":{"type":"any"}`, convers: `"toolConfig":{` + converseTools + `,"toolChoice":{"any":{}}}`,
			want: bedrockAnswer{Tools: both, Stop: "tool_use"}},
		{name: "forced tool",
			anthropic: anthropicTools + `,"tool_choice":{"type":"tool","name":"get_time"}`, convers: `"toolConfig":{` + converseTools + `,"toolChoice":{"tool":{"name":"get_time"}}}`,
			want: bedrockAnswer{Tools: []string{"get_time"}, Stop: "tool_use"}},
		{name: "parallel use disabled",
			anthropic: anthropicTools + `,"tool_choice":{"type":"any","disable_parallel_tool_use":true}`,
			want:      bedrockAnswer{Tools: []string{"get_weather"}, Stop: "tool_use"}},
		{name: "none",
			anthropic: anthropicTools + `,"tool_choice":{"type":"none"}`,
			want:      bedrockAnswer{Text: true, Stop: "end_turn"}},
		{name: "thinking",
			anthropic: `"thinking":{"type":"enabled","budget_tokens":1024}`, convers: `"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}}`,
			want: bedrockAnswer{Thinking: true, Text: true, Stop: "end_turn"}},
		{name: "thinking disabled",
			anthropic: `"thinking":{"type":"disabled"}`, convers: `"additionalModelRequestFields":{"thinking":{"type":"disabled"}}`,
			want: bedrockAnswer{Text: true, Stop: "end_turn"}},
		{name: "reasoning_config",
			convers: `"additionalModelRequestFields":{"reasoning_config":{"type":"enabled","budget_tokens":1024}}`,
			want:    bedrockAnswer{Thinking: true, Text: true, Stop: "end_turn"}},
		{name: "reasoningConfig", model: "amazon.nova-2-lite-v1:0",
			convers: `"additionalModelRequestFields":{"reasoningConfig":{"type":"enabled","maxReasoningEffort":"low"}}`,
			want:    bedrockAnswer{Thinking: true, Text: true, Stop: "end_turn"}},
		// Thinking works with auto (and none); a forced choice is refused
		// (TestBedrockRefusals).
		{name: "thinking and tools",
			anthropic: `"thinking":{"type":"enabled","budget_tokens":1024},` + anthropicTools + `,"tool_choice":{"type":"auto"}`,
			convers:   `"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}},"toolConfig":{` + converseTools + `,"toolChoice":{"auto":{}}}`,
			want:      bedrockAnswer{Thinking: true, Tools: []string{"get_weather", "get_time"}, Stop: "tool_use"}},
	}
	for _, tc := range tests {
		for _, api := range []string{"anthropic", "converse"} {
			members := tc.anthropic
			body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2048,"messages":[{"role":"user","content":"Weather and time?"}],%s}`
			ops := []string{"invoke", "invoke-with-response-stream"}
			if api == "converse" {
				members = tc.convers
				body = `{"messages":[{"role":"user","content":[{"text":"Weather and time?"}]}],%s}`
				ops = []string{"converse", "converse-stream"}
			}
			if members == "" {
				continue
			}
			for _, op := range ops {
				t.Run(tc.name+"/"+op, func(t *testing.T) {
					t.Parallel()
					model := tc.model
					if model == "" {
						model = "anthropic.claude-sonnet-4-5"
					}
					status, _, b := invoke(t, url, model, op, fmt.Appendf(nil, body, members))
					if status != http.StatusOK {
						t.Fatalf("status %d: %s", status, b)
					}
					got := readBedrockAnswer(t, api == "anthropic", strings.HasSuffix(op, "stream"), b)
					want := tc.want
					want.OutTokens = 6
					if want.Thinking {
						want.OutTokens += thinkingTokens
					}
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("answer differs (-want +got):\n%s", d)
					}
				})
			}
		}
	}
}

// TestBedrockRefusals: what Bedrock refuses with a ValidationException
// (400) the simulator refuses alike: request metadata that is not an
// object of strings, a tool choice naming a tool not offered or of an
// unknown type, a thinking configuration that is not an object, thinking
// with a tool choice that forces a call.
func TestBedrockRefusals(t *testing.T) {
	t.Parallel()
	url := startFeatures(t)
	const (
		converse  = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]%s}`
		anthropic = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hi"}]%s}`
		tool      = `"tools":[{"name":"a","input_schema":{"type":"object"}}]`
		toolSpec  = `"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{"type":"object"}}}}]`
	)
	tests := []struct {
		name, op, body, members, want string
	}{
		{"metadata number", "converse", converse, `,"requestMetadata":{"k":1}`, "requestMetadata must be a JSON object of strings"},
		{"metadata array", "converse-stream", converse, `,"requestMetadata":["x"]`, "requestMetadata must be a JSON object of strings"},
		{"metadata string", "converse", converse, `,"requestMetadata":"x"`, "requestMetadata must be a JSON object of strings"},
		{"forced tool not offered", "invoke", anthropic, `,` + tool + `,"tool_choice":{"type":"tool","name":"b"}`, `tool_choice names tool "b"`},
		{"forced tool without a name", "invoke", anthropic, `,` + tool + `,"tool_choice":{"type":"tool"}`, "tool_choice.name is required"},
		{"unknown tool choice", "invoke-with-response-stream", anthropic, `,` + tool + `,"tool_choice":{"type":"some"}`, "tool_choice.type must be one of"},
		{"thinking not an object", "invoke", anthropic, `,"thinking":"on"`, "thinking must be an object"},
		{"converse forced tool not offered", "converse", converse, `,"toolConfig":{` + toolSpec + `,"toolChoice":{"tool":{"name":"b"}}}`, `toolConfig.toolChoice.tool names tool "b"`},
		{"converse two choices", "converse-stream", converse, `,"toolConfig":{` + toolSpec + `,"toolChoice":{"auto":{},"any":{}}}`, "exactly one of auto, any, tool"},
		{"converse thinking not an object", "converse", converse, `,"additionalModelRequestFields":{"thinking":1}`, "additionalModelRequestFields.thinking must be"},
		// Claude thinks only with tool choice auto or none.
		{"thinking with a forced tool", "invoke", anthropic, `,"thinking":{"type":"enabled","budget_tokens":1024},` + tool + `,"tool_choice":{"type":"tool","name":"a"}`, "Thinking may not be enabled when tool_choice forces tool use"},
		{"thinking with any tool", "invoke-with-response-stream", anthropic, `,"thinking":{"type":"enabled","budget_tokens":1024},` + tool + `,"tool_choice":{"type":"any"}`, "Thinking may not be enabled when tool_choice forces tool use"},
		{"converse thinking with a forced tool", "converse", converse, `,"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}},"toolConfig":{` + toolSpec + `,"toolChoice":{"tool":{"name":"a"}}}`, "Thinking may not be enabled when tool_choice forces tool use"},
		{"converse thinking with any tool", "converse-stream", converse, `,"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}},"toolConfig":{` + toolSpec + `,"toolChoice":{"any":{}}}`, "Thinking may not be enabled when tool_choice forces tool use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, b := invoke(t, url, "anthropic.claude-sonnet-4-5", tc.op, fmt.Appendf(nil, tc.body, tc.members))
			var e struct{ Message string }
			json.Unmarshal(b, &e)
			if status != http.StatusBadRequest || h.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(e.Message, tc.want) {
				t.Errorf("status %d, %s %s; want 400, ValidationException naming %q", status, h.Get("X-Amzn-Errortype"), b, tc.want)
			}
		})
	}
}

// TestBedrockInjectedFailures: fail_rate injects failures on the Bedrock
// routes too (embedding models' included), in Bedrock's shape: the
// configured status with its exception type.
func TestBedrockInjectedFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		typ    string
	}{
		{http.StatusTooManyRequests, "ThrottlingException"},
		{http.StatusInternalServerError, "InternalServerException"},
		{http.StatusServiceUnavailable, "ServiceUnavailableException"},
		{http.StatusBadRequest, "ValidationException"},
		// The types the gateway's Bedrock backend tells failures apart by.
		{http.StatusForbidden, "AccessDeniedException"},
		{http.StatusNotFound, "ResourceNotFoundException"},
		{http.StatusRequestTimeout, "ModelTimeoutException"},
		{http.StatusFailedDependency, "ModelErrorException"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			s, url := start(t, mockllm.Config{CompletionTokens: 4, FailRate: 1, FailStatus: tc.status, Clock: newFakeClock()})
			for _, r := range []struct{ model, op, body string }{
				{"anthropic.claude-sonnet-4-5", "converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`},
				{"anthropic.claude-sonnet-4-5", "invoke-with-response-stream", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`},
				{"amazon.titan-embed-text-v2:0", "invoke", `{"inputText":"hi"}`},
			} {
				status, h, b := invoke(t, url, r.model, r.op, []byte(r.body))
				var e struct{ Message string }
				if status != tc.status || h.Get("X-Amzn-Errortype") != tc.typ || json.Unmarshal(b, &e) != nil || e.Message == "" {
					t.Errorf("%s %s: %d %s %s; want %d %s with a message", r.model, r.op, status, h.Get("X-Amzn-Errortype"), b, tc.status, tc.typ)
				}
				if tc.status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
					t.Errorf("%s %s: throttled without Retry-After", r.model, r.op)
				}
			}
			if st := s.Stats(); st.Served != 0 {
				t.Errorf("stats %+v: served %d, want 0", st, st.Served)
			}
		})
	}
}

// TestBedrockRateLimits: the RPM window the OpenAI face keeps throttles
// the Bedrock routes too, with a ThrottlingException and Retry-After.
func TestBedrockRateLimits(t *testing.T) {
	t.Parallel()
	s, url := start(t, mockllm.Config{CompletionTokens: 4, RPM: 2, Clock: newFakeClock()})
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	for i, want := range []int{200, 200, 429} {
		status, h, b := invoke(t, url, "amazon.nova-pro-v1:0", "converse", body)
		if status != want {
			t.Fatalf("request %d: %d %s, want %d", i+1, status, b, want)
		}
		if want == 429 && (h.Get("X-Amzn-Errortype") != "ThrottlingException" || h.Get("Retry-After") == "") {
			t.Errorf("throttled as %q with Retry-After %q, want ThrottlingException with one", h.Get("X-Amzn-Errortype"), h.Get("Retry-After"))
		}
	}
	if st := s.Stats(); st.Served != 2 || st.Throttled != 1 {
		t.Errorf("stats %+v, want 2 served, 1 throttled", st)
	}
}

// TestBedrockToolStreamPaced: a streamed Bedrock tool answer is paced as
// the OpenAI mode paces its calls (call i at the deadline of token 3i,
// capped at the last token's): under a clock that jumps to each deadline,
// two calls end the stream at TTFT plus three tokens' time, a
// non-streamed answer at the last token's deadline.
func TestBedrockToolStreamPaced(t *testing.T) {
	t.Parallel()
	const tools = `"toolConfig":{"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{"type":"object"}}}},{"toolSpec":{"name":"b","inputSchema":{"json":{"type":"object"}}}}]}`
	for _, tc := range []struct {
		op   string
		want time.Duration
	}{
		{"converse-stream", 100*time.Millisecond + 3*100*time.Millisecond},
		{"converse", 100*time.Millisecond + 5*100*time.Millisecond},
	} {
		t.Run(tc.op, func(t *testing.T) {
			t.Parallel()
			clk := jumpClock{newFakeClock()}
			t0 := clk.Now()
			_, url := start(t, mockllm.Config{CompletionTokens: 6, TTFT: 100 * time.Millisecond, TokensPerSecond: 10, Clock: clk})
			status, _, b := invoke(t, url, "amazon.nova-pro-v1:0", tc.op, []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}],`+tools+`}`))
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, b)
			}
			if got := clk.Now().Sub(t0); got != tc.want {
				t.Errorf("answer ended %v after the start, want %v", got, tc.want)
			}
		})
	}
}

// TestBedrockForcedChoiceAfterToolResults: a tool choice that forces a
// call (any, tool) calls a tool even when the conversation ends with tool
// results, as the real model does; auto answers with text then.
func TestBedrockForcedChoiceAfterToolResults(t *testing.T) {
	t.Parallel()
	url := startFeatures(t)
	const (
		anthropic = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":256,"tools":[{"name":"get_time","input_schema":{"type":"object"}}],"tool_choice":%s,` +
			`"messages":[{"role":"user","content":"Time?"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_time","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"noon"}]}]}`
		converse = `{"toolConfig":{"tools":[{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":%s},` +
			`"messages":[{"role":"user","content":[{"text":"Time?"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_time","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"noon"}]}}]}]}`
	)
	for _, tc := range []struct {
		name, op, body, choice string
		tools                  []string
	}{
		{"anthropic any", "invoke", anthropic, `{"type":"any"}`, []string{"get_time"}},
		{"anthropic tool", "invoke-with-response-stream", anthropic, `{"type":"tool","name":"get_time"}`, []string{"get_time"}},
		{"anthropic auto", "invoke", anthropic, `{"type":"auto"}`, nil},
		{"converse any", "converse", converse, `{"any":{}}`, []string{"get_time"}},
		{"converse tool", "converse-stream", converse, `{"tool":{"name":"get_time"}}`, []string{"get_time"}},
		{"converse auto", "converse", converse, `{"auto":{}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, _, b := invoke(t, url, "anthropic.claude-sonnet-4-5", tc.op, fmt.Appendf(nil, tc.body, tc.choice))
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, b)
			}
			got := readBedrockAnswer(t, strings.HasPrefix(tc.name, "anthropic"), strings.HasSuffix(tc.op, "stream"), b)
			if !slices.Equal(got.Tools, tc.tools) || (tc.tools == nil) != got.Text {
				t.Errorf("tools %v, text %v; want tools %v", got.Tools, got.Text, tc.tools)
			}
		})
	}
}

// compareGolden compares got, a response as the golden tests write it,
// with the file golden, or writes it there under -update.
func compareGolden(t *testing.T, golden, got, what string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s: response differs from %s (-want +got):\n%s", what, golden, d)
	}
}
