package mockllm

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// This file is the simulator's answer to requests that use more than text:
// tools (deterministic tool calls, several at once when the request offers
// several tools and allows parallel calls), structured output (an answer
// that validates against the requested JSON schema), n choices, logprobs,
// reasoning content, and cached-token usage. Plain text requests never
// come here: their path allocates nothing per token.

// toolDef is a function tool of the request.
type toolDef struct {
	Type     string `json:"type"`
	Function struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// responseFormat is the request's response_format.
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema"`
}

// rich reports whether req uses anything the plain path does not answer.
func (r *chatRequest) rich() bool {
	return len(r.Tools) > 0 || r.ResponseFormat != nil && r.ResponseFormat.Type != "text" ||
		r.choices() > 1 || r.Logprobs || r.ReasoningEffort != ""
}

func (r *chatRequest) choices() int {
	if r.N == nil || *r.N < 1 {
		return 1
	}
	return *r.N
}

// wantsToolCalls reports whether the answer is tool calls: the request
// offers tools, does not forbid them, and the conversation does not end
// with tool results (then the model gives its final answer).
func (r *chatRequest) wantsToolCalls() bool {
	if len(r.Tools) == 0 || bytes.Equal(bytes.TrimSpace(r.ToolChoice), []byte(`"none"`)) {
		return false
	}
	return len(r.Messages) == 0 || r.Messages[len(r.Messages)-1].Role != "tool"
}

// toolCall is one call of the answer.
type toolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// plannedCalls returns the tool calls of the answer: one per tool (the
// tool_choice one alone, or only the first when parallel calls are off).
func (g *generation) plannedCalls() []toolCall {
	var calls []toolCall
	var forced string
	var tc struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(g.req.ToolChoice, &tc) == nil {
		forced = tc.Function.Name
	}
	for _, t := range g.req.Tools {
		if forced != "" && t.Function.Name != forced {
			continue
		}
		var c toolCall
		c.ID = "call_mock" + strconv.FormatUint(g.id, 16) + "_" + strconv.Itoa(len(calls))
		c.Type = "function"
		c.Function.Name = t.Function.Name
		c.Function.Arguments = string(Instance(t.Function.Parameters))
		calls = append(calls, c)
		if g.req.ParallelToolCalls != nil && !*g.req.ParallelToolCalls {
			break
		}
	}
	return calls
}

// content returns the text of choice i: the generated words, or a JSON
// instance of the requested schema.
func (g *generation) content(i int) string {
	if f := g.req.ResponseFormat; f != nil {
		switch f.Type {
		case "json_schema":
			if f.JSONSchema != nil {
				return string(Instance(f.JSONSchema.Schema))
			}
		case "json_object":
			if v, ok := promptJSON(g.req); ok {
				return v
			}
			b, _ := json.Marshal(map[string]string{"answer": strings.Join(g.c.tokens, "")})
			return string(b)
		}
	}
	text := strings.Join(g.c.tokens, "")
	if i > 0 {
		text = "(" + strconv.Itoa(i+1) + ") " + text
	}
	return text
}

func (g *generation) reasoning() string {
	if g.req.ReasoningEffort == "" || g.req.ReasoningEffort == "none" {
		// "none" asks for no reasoning.
		return ""
	}
	return mockReasoning
}

// mockReasoning is the simulated model's reasoning, in every face.
const mockReasoning = "The user asks a question; I answer briefly."

// reasoningTokens is the token count of reasoning text r: a token per four
// bytes, rounded up.
func reasoningTokens(r string) int { return (len(r) + 3) / 4 }

// richUsage is the usage of a rich answer, with the details OpenAI reports.
type richUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (g *generation) usage(completion int) *richUsage {
	u := &richUsage{PromptTokens: g.prompt, CompletionTokens: completion, TotalTokens: g.prompt + completion}
	u.PromptTokensDetails.CachedTokens = g.cached
	u.CompletionTokensDetails.ReasoningTokens = reasoningTokens(g.reasoning())
	return u
}

type richLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

// topLogprob is one of the most likely tokens at a position.
type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// maxTopLogprobs is the most top_logprobs OpenAI accepts.
const maxTopLogprobs = 20

// tokenBytes is token's UTF-8 bytes, as OpenAI lists them.
func tokenBytes(t string) []int {
	b := make([]int, len(t))
	for i := range len(t) {
		b[i] = int(t[i])
	}
	return b
}

type richLogprobs struct {
	Content []richLogprob `json:"content"`
}

func (g *generation) logprobs(tokens []string) *richLogprobs {
	if !g.req.Logprobs {
		return nil
	}
	top := 0
	if g.req.TopLogprobs != nil {
		top = *g.req.TopLogprobs
	}
	lp := &richLogprobs{Content: []richLogprob{}}
	for i, t := range tokens {
		l := richLogprob{Token: t, Logprob: -0.01 * float64(1+i%7), Bytes: tokenBytes(t), TopLogprobs: []topLogprob{}}
		l.TopLogprobs = g.alternatives(l, top)
		lp.Content = append(lp.Content, l)
	}
	return lp
}

// alternatives returns the n most likely tokens at the position of l, most
// likely first: l's own token (the one sampled), then other words of the
// vocabulary in the same form (leading space, capital), each less likely
// than the one before. They depend only on the seed and the token.
func (g *generation) alternatives(l richLogprob, n int) []topLogprob {
	out := make([]topLogprob, 0, n)
	if n == 0 {
		return out
	}
	out = append(out, topLogprob{Token: l.Token, Logprob: l.Logprob, Bytes: l.Bytes})
	lead, word := "", strings.TrimSuffix(strings.TrimLeft(l.Token, " "), ".")
	if strings.HasPrefix(l.Token, " ") {
		lead = " "
	}
	capital := word != "" && word[0] >= 'A' && word[0] <= 'Z'
	r := rng{state: uint64(newHasher(g.s.seed).string(l.Token))}
	seen := map[string]bool{l.Token: true}
	for len(out) < n {
		w := words[r.intn(len(words))]
		if capital {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		t := lead + w
		if seen[t] {
			if len(seen) > len(words) {
				t += strconv.Itoa(len(out)) // every word taken
			} else {
				continue
			}
		}
		seen[t] = true
		out = append(out, topLogprob{Token: t, Logprob: l.Logprob - 1.5*float64(len(out)), Bytes: tokenBytes(t)})
	}
	return out
}

type richMessage struct {
	Role             string     `json:"role,omitempty"`
	Content          *string    `json:"content,omitempty"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCall `json:"tool_calls,omitempty"`
}

type richChoice struct {
	Index        int           `json:"index"`
	Message      *richMessage  `json:"message,omitempty"`
	Delta        *richMessage  `json:"delta,omitempty"`
	Logprobs     *richLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type richResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []richChoice `json:"choices"`
	Usage             *richUsage   `json:"usage,omitempty"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

func (g *generation) head(object string) richResponse {
	return richResponse{ID: "chatcmpl-mock" + strconv.FormatUint(g.id, 16), Object: object, Created: g.start.Unix(),
		Model: g.req.Model, SystemFingerprint: "fp_mockllm"}
}

// respondRich writes the non-streaming rich answer after the simulated
// generation time.
func (g *generation) respondRich(ctx context.Context, w http.ResponseWriter) (int, outcome) {
	n := len(g.c.tokens)
	if g.paced() {
		if err := g.waitUntil(ctx, g.due(max(n-1, 0))); err != nil {
			return 0, canceled
		}
	}
	resp := g.head("chat.completion")
	calls := g.req.wantsToolCalls()
	for i := range g.req.choices() {
		m := &richMessage{Role: "assistant"}
		fr := string(g.c.finish)
		if calls {
			m.ToolCalls, fr = g.plannedCalls(), "tool_calls"
		} else {
			text := g.content(i)
			m.Content = &text
		}
		if r := g.reasoning(); r != "" {
			m.ReasoningContent = &r
		}
		resp.Choices = append(resp.Choices, richChoice{Index: i, Message: m, Logprobs: g.logprobs(g.c.tokens), FinishReason: &fr})
	}
	resp.Usage = g.usage(n * g.req.choices())
	b, _ := json.Marshal(resp)
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b) + 1)}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return n, canceled
	}
	return n, completed
}

// streamRich writes the rich answer as chunks, paced like the plain
// stream: the role, then per token one delta per choice (text, or a tool
// call's arguments in pieces), then the finish reason, usage if asked, and
// [DONE].
func (g *generation) streamRich(ctx context.Context, w http.ResponseWriter) (int, outcome) {
	h := w.Header()
	h["Content-Type"] = contentTypeSSE
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(r *richResponse) bool {
		b, _ := json.Marshal(r)
		if _, err := w.Write(append(append([]byte("data: "), b...), "\n\n"...)); err != nil {
			return false
		}
		rc.Flush()
		return true
	}
	chunk := func(choices ...richChoice) *richResponse {
		r := g.head("chat.completion.chunk")
		r.Choices = choices
		return &r
	}
	if g.paced() && g.waitUntil(ctx, g.due(0)) != nil {
		return 0, canceled
	}
	choices := g.req.choices()
	empty := ""
	for i := range choices {
		m := &richMessage{Role: "assistant", Content: &empty}
		if r := g.reasoning(); r != "" {
			m.ReasoningContent = &r
		}
		if !send(chunk(richChoice{Index: i, Delta: m})) {
			return 0, canceled
		}
	}
	n := len(g.c.tokens)
	finish := string(g.c.finish)
	if g.req.wantsToolCalls() {
		finish = "tool_calls"
		for ci, c := range g.plannedCalls() {
			idx := ci
			head := c
			head.Index, head.Function.Arguments = &idx, ""
			args := c.Function.Arguments
			half := len(args) / 2
			for pi, part := range []string{"", args[:half], args[half:]} {
				var d toolCall
				switch pi {
				case 0:
					d = head
				default:
					d.Index, d.Function.Arguments = &idx, part
				}
				if g.paced() && g.waitUntil(ctx, g.due(min(ci*3+pi, max(n-1, 0)))) != nil {
					return ci, canceled
				}
				if !send(chunk(richChoice{Index: 0, Delta: &richMessage{ToolCalls: []toolCall{d}}})) {
					return ci, canceled
				}
			}
		}
	} else {
		texts := make([]string, choices)
		for i := range choices {
			texts[i] = g.content(i)
		}
		// Each choice's text in as many pieces as there are tokens.
		for t := range n {
			if g.paced() && g.waitUntil(ctx, g.due(t)) != nil {
				return t, canceled
			}
			for i := range choices {
				piece := slice(texts[i], t, n)
				c := richChoice{Index: i, Delta: &richMessage{Content: &piece}}
				if g.req.Logprobs {
					c.Logprobs = g.logprobs(g.c.tokens[t : t+1])
				}
				if !send(chunk(c)) {
					return t, canceled
				}
			}
		}
	}
	for i := range choices {
		if !send(chunk(richChoice{Index: i, Delta: &richMessage{}, FinishReason: &finish})) {
			return n, canceled
		}
	}
	if g.req.includeUsage() {
		r := chunk()
		r.Choices = []richChoice{}
		r.Usage = g.usage(n * choices)
		if !send(r) {
			return n, canceled
		}
	}
	if _, err := w.Write([]byte("data: [DONE]\n\n")); err != nil {
		return n, canceled
	}
	rc.Flush()
	return n, completed
}

// slice returns the t-th of n roughly equal pieces of s, cut on rune
// boundaries.
func slice(s string, t, n int) string {
	r := []rune(s)
	from, to := len(r)*t/n, len(r)*(t+1)/n
	return string(r[from:to])
}

// promptJSON is the answer to JSON mode (response_format json_object, or
// on the Bedrock face the open schema {"type":"object"} that json_object
// becomes): JSON mode carries no schema, so a model follows the format the
// conversation describes, and LangChain's jsonMode, for one, puts its
// schema only in its own parser and expects the prompt to ask for the
// fields. The last JSON object written in the conversation's text is taken
// as that format: a JSON schema (with properties, or of type object) is
// answered with an instance of it, any other object is an example and is
// answered in its shape. ok is false when the text holds no object.
func promptJSON(req *chatRequest) (string, bool) {
	var last map[string]any
	tries := 0
	for i := range req.Messages {
		for _, p := range req.Messages[i].Content.parts {
			for j := 0; j < len(p) && tries < maxJSONTries; j++ {
				k := strings.IndexByte(p[j:], '{')
				if k < 0 {
					break
				}
				j += k
				tries++
				d := json.NewDecoder(strings.NewReader(p[j:]))
				var v map[string]any
				if d.Decode(&v) != nil || len(v) == 0 {
					continue
				}
				last = v
				j += int(d.InputOffset()) - 1 // past the object: not its members
			}
		}
	}
	if last == nil {
		return "", false
	}
	if _, ok := last["properties"].(map[string]any); ok || last["type"] == "object" {
		b, _ := json.Marshal(instanceOf(last, 0))
		return string(b), true
	}
	b, _ := json.Marshal(last)
	return string(b), true
}

// maxJSONTries bounds the objects promptJSON tries to read.
const maxJSONTries = 64

// Instance returns a JSON value that validates against schema: every
// property of an object (required or not), one item per array, the first
// enum or const value, and a fixed value of each scalar type.
func Instance(schema json.RawMessage) []byte {
	var s map[string]any
	if json.Unmarshal(schema, &s) != nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(instanceOf(s, 0))
	return b
}

func instanceOf(s map[string]any, depth int) any {
	if depth > 16 {
		return nil
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			if m, ok := alts[0].(map[string]any); ok {
				return instanceOf(m, depth+1)
			}
		}
	}
	typ := s["type"]
	if list, ok := typ.([]any); ok && len(list) > 0 {
		typ = list[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			if m, ok := v.(map[string]any); ok {
				out[k] = instanceOf(m, depth+1)
			}
		}
		return out
	case "array":
		items, _ := s["items"].(map[string]any)
		if items == nil {
			return []any{}
		}
		n := 1
		if mi, ok := s["minItems"].(float64); ok && mi > 1 {
			n = int(mi)
		}
		out := make([]any, n)
		for i := range out {
			out[i] = instanceOf(items, depth+1)
		}
		return out
	case "string":
		if f, _ := s["format"].(string); f == "date" {
			return "2026-01-01"
		}
		return "mock"
	case "integer":
		if m, ok := s["minimum"].(float64); ok {
			return int(m)
		}
		return 1
	case "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 1.5
	case "boolean":
		return true
	case "null":
		return nil
	}
	if _, ok := s["properties"]; ok {
		s["type"] = "object"
		return instanceOf(s, depth+1)
	}
	return "mock"
}
