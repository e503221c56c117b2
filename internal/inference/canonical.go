package inference

import (
	"encoding/json"
	"slices"
	"strconv"
)

// Canonical returns the request in its canonical, text-only form
// (Messages, MaxTokens, sampling fields), for a backend that speaks another
// dialect than the request's and must re-encode it. A request built in
// code is returned as is. A field the canonical form cannot carry (tools,
// images, response formats, a field Meridian does not know) is refused
// with a KindInvalidRequest error naming it: translation never drops what
// the caller asked for.
func (r *Request) Canonical(target Dialect) (*Request, error) {
	if r.Body == nil {
		return r, nil
	}
	c := *r
	c.Messages = nil
	var err error
	switch r.Dialect {
	case DialectOpenAIChat:
		err = canonicalOpenAI(&c)
	case DialectConverse:
		err = canonicalConverse(&c)
	case DialectAnthropic:
		err = canonicalAnthropic(&c)
	case DialectInvoke:
		return nil, Invalid("", "this InvokeModel body is not an Anthropic Messages body (it has no anthropic_version) and only an Amazon Bedrock deployment can serve it as is; the chosen deployment speaks "+target.String())
	default:
		return nil, Invalid("", "a "+r.Dialect.String()+" body cannot be translated to "+target.String())
	}
	if err != nil {
		if e, ok := err.(*Error); ok && e.Kind == KindInvalidRequest {
			e.Message += " (the chosen deployment speaks " + target.String() + ")"
		}
		return nil, err
	}
	return &c, nil
}

// PromptMessages returns the conversation as text, for content recording:
// Messages, or the text read from Body (nil when it cannot be read).
func (r *Request) PromptMessages() []Message {
	if r.Body == nil {
		return r.Messages
	}
	c, err := r.Canonical(DialectUnknown)
	if err != nil {
		return []Message{TextMessage(RoleUser, Clip(string(r.Body), 64<<10))}
	}
	return c.Messages
}

// untranslatable refuses a field the canonical form cannot carry.
func untranslatable(field string) *Error {
	return Invalid(field, Clip(field, EchoLimit)+" cannot be translated to the deployment's API, and no deployment of this request's API could serve it")
}

// onlyKnown refuses any member of obj not in known.
func onlyKnown(obj map[string]json.RawMessage, known ...string) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) && !isNull(obj[k]) {
			return untranslatable(k)
		}
	}
	return nil
}

func canonicalOpenAI(c *Request) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Body, &obj); err != nil {
		return decodeError(err, "request body")
	}
	if err := onlyKnown(obj, "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
		"stop", "stream", "stream_options", "seed", "user", "n"); err != nil {
		return err
	}
	var r struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Temperature *float64        `json:"temperature"`
		TopP        *float64        `json:"top_p"`
		Stop        json.RawMessage `json:"stop"`
		Seed        *int64          `json:"seed"`
		User        string          `json:"user"`
		N           *int            `json:"n"`
	}
	if err := json.Unmarshal(c.Body, &r); err != nil {
		return decodeError(err, "request body")
	}
	if r.N != nil && *r.N != 1 {
		return untranslatable("n")
	}
	c.Temperature, c.TopP, c.Seed, c.User = r.Temperature, r.TopP, r.Seed, r.User
	if !isNull(r.Stop) {
		var s string
		if json.Unmarshal(r.Stop, &s) == nil {
			c.Stop = []string{s}
		} else if json.Unmarshal(r.Stop, &c.Stop) != nil {
			return Invalid("stop", "stop must be a string or an array of strings")
		}
	}
	for i, m := range r.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		var role Role
		switch m.Role {
		case "system", "developer":
			role = RoleSystem
		case "user":
			role = RoleUser
		case "assistant":
			role = RoleAssistant
		default:
			return untranslatable(field + ".role")
		}
		text, err := textContent(m.Content, field+".content", "text")
		if err != nil {
			return err
		}
		c.Messages = append(c.Messages, TextMessage(role, text))
	}
	return nil
}

// textContent reads content that is a string or an array of text blocks
// whose type is textType.
func textContent(raw json.RawMessage, field, textType string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", Invalid(field, field+" must be a string or an array of content parts")
	}
	var out []byte
	for i, p := range parts {
		pf := field + "[" + strconv.Itoa(i) + "]"
		var typ, text string
		json.Unmarshal(p["type"], &typ)
		if typ != textType {
			return "", untranslatable(pf + "." + Clip(typ, EchoLimit))
		}
		if err := onlyKnown(p, "type", "text"); err != nil {
			return "", untranslatable(pf + "." + err.(*Error).Param)
		}
		json.Unmarshal(p["text"], &text)
		out = append(out, text...)
	}
	return string(out), nil
}

func canonicalConverse(c *Request) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Body, &obj); err != nil {
		return decodeError(err, "request body")
	}
	if err := onlyKnown(obj, "messages", "system", "inferenceConfig", "requestMetadata", "performanceConfig", "serviceTier"); err != nil {
		return err
	}
	var r struct {
		Messages []struct {
			Role    string                       `json:"role"`
			Content []map[string]json.RawMessage `json:"content"`
		} `json:"messages"`
		System          []map[string]json.RawMessage `json:"system"`
		InferenceConfig *struct {
			Temperature   *float64 `json:"temperature"`
			TopP          *float64 `json:"topP"`
			StopSequences []string `json:"stopSequences"`
		} `json:"inferenceConfig"`
	}
	if err := json.Unmarshal(c.Body, &r); err != nil {
		return decodeError(err, "request body")
	}
	if ic := r.InferenceConfig; ic != nil {
		c.Temperature, c.TopP, c.Stop = ic.Temperature, ic.TopP, ic.StopSequences
	}
	block := func(b map[string]json.RawMessage, field string) (string, error) {
		if err := onlyKnown(b, "text"); err != nil {
			return "", untranslatable(field + "." + err.(*Error).Param)
		}
		var s string
		if json.Unmarshal(b["text"], &s) != nil {
			return "", Invalid(field+".text", field+".text must be a string")
		}
		return s, nil
	}
	for i, b := range r.System {
		s, err := block(b, "system["+strconv.Itoa(i)+"]")
		if err != nil {
			return err
		}
		c.Messages = append(c.Messages, TextMessage(RoleSystem, s))
	}
	for i, m := range r.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		role := RoleUser
		switch m.Role {
		case "assistant":
			role = RoleAssistant
		case "system":
			// A Converse system message changes the tools mid-conversation
			// (toolAddition, toolRemoval): no canonical form.
			return untranslatable(field + ".role")
		}
		msg := Message{Role: role}
		for j, b := range m.Content {
			s, err := block(b, field+".content["+strconv.Itoa(j)+"]")
			if err != nil {
				return err
			}
			msg.Content = append(msg.Content, Block{Text: s})
		}
		c.Messages = append(c.Messages, msg)
	}
	return nil
}

func canonicalAnthropic(c *Request) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Body, &obj); err != nil {
		return decodeError(err, "request body")
	}
	if err := onlyKnown(obj, "anthropic_version", "messages", "system", "max_tokens", "temperature", "top_p",
		"stop_sequences", "stream", "metadata"); err != nil {
		return err
	}
	var r struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		System        json.RawMessage `json:"system"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		StopSequences []string        `json:"stop_sequences"`
	}
	if err := json.Unmarshal(c.Body, &r); err != nil {
		return decodeError(err, "request body")
	}
	c.Temperature, c.TopP, c.Stop = r.Temperature, r.TopP, r.StopSequences
	if !isNull(r.System) {
		s, err := textContent(r.System, "system", "text")
		if err != nil {
			return err
		}
		c.Messages = append(c.Messages, TextMessage(RoleSystem, s))
	}
	for i, m := range r.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		s, err := textContent(m.Content, field+".content", "text")
		if err != nil {
			return err
		}
		role := RoleUser
		if m.Role == "assistant" {
			role = RoleAssistant
		}
		c.Messages = append(c.Messages, TextMessage(role, s))
	}
	return nil
}

// EncodeCanonical encodes a request built in code (Messages and the
// sampling fields) as a body of dialect d, so that it can travel and be
// served like a client's. A request with a Body is returned as is.
func EncodeCanonical(r *Request, d Dialect) ([]byte, error) {
	if r.Body != nil {
		return r.Body, nil
	}
	type text struct {
		Text string `json:"text"`
	}
	switch d {
	case DialectOpenAIChat:
		type msg struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		out := struct {
			Model       string   `json:"model"`
			Messages    []msg    `json:"messages"`
			MaxTokens   int      `json:"max_tokens,omitempty"`
			Temperature *float64 `json:"temperature,omitempty"`
			TopP        *float64 `json:"top_p,omitempty"`
			Stop        []string `json:"stop,omitempty"`
			Seed        *int64   `json:"seed,omitempty"`
			User        string   `json:"user,omitempty"`
			Stream      bool     `json:"stream,omitempty"`
		}{Model: r.Model, MaxTokens: r.MaxTokens, Temperature: r.Temperature, TopP: r.TopP, Stop: r.Stop, Seed: r.Seed, User: r.User, Stream: r.Stream}
		out.Messages = []msg{}
		for _, m := range r.Messages {
			out.Messages = append(out.Messages, msg{Role: string(m.Role), Content: m.Text()})
		}
		return json.Marshal(out)
	case DialectConverse, DialectAnthropic:
		type msg struct {
			Role    string `json:"role"`
			Content []text `json:"content"`
		}
		var system []text
		msgs := []msg{}
		for _, m := range r.Messages {
			if m.Role == RoleSystem {
				system = append(system, text{m.Text()})
				continue
			}
			msgs = append(msgs, msg{Role: string(m.Role), Content: []text{{m.Text()}}})
		}
		if d == DialectAnthropic {
			maxTokens := r.MaxTokens
			if maxTokens <= 0 {
				maxTokens = 4096
			}
			return json.Marshal(struct {
				Version     string   `json:"anthropic_version"`
				Messages    []msg    `json:"messages"`
				System      []text   `json:"system,omitempty"`
				MaxTokens   int      `json:"max_tokens"`
				Temperature *float64 `json:"temperature,omitempty"`
				TopP        *float64 `json:"top_p,omitempty"`
				Stop        []string `json:"stop_sequences,omitempty"`
			}{"bedrock-2023-05-31", msgs, system, maxTokens, r.Temperature, r.TopP, r.Stop})
		}
		type ic struct {
			MaxTokens   int      `json:"maxTokens,omitempty"`
			Temperature *float64 `json:"temperature,omitempty"`
			TopP        *float64 `json:"topP,omitempty"`
			Stop        []string `json:"stopSequences,omitempty"`
		}
		out := struct {
			Messages        []msg  `json:"messages"`
			System          []text `json:"system,omitempty"`
			InferenceConfig *ic    `json:"inferenceConfig,omitempty"`
		}{Messages: msgs, System: system}
		if r.MaxTokens > 0 || r.Temperature != nil || r.TopP != nil || len(r.Stop) > 0 {
			out.InferenceConfig = &ic{r.MaxTokens, r.Temperature, r.TopP, r.Stop}
		}
		return json.Marshal(out)
	}
	return nil, Errorf(KindInternal, "a request built in code cannot be encoded as %s", d)
}
