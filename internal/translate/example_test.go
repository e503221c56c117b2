package translate_test

import (
	"errors"
	"fmt"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// An OpenAI client's request served by a Converse backend.
func ExampleRequest() {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":50,"stop":"END"}`)
	out, err := translate.Request(translate.OpenAI, translate.Converse, body, "", false, translate.Options{})
	fmt.Println(string(out), err)

	// A member Converse cannot express is refused by name, never dropped.
	body = []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"logit_bias":{"50256":-100}}`)
	_, err = translate.Request(translate.OpenAI, translate.Converse, body, "", false, translate.Options{})
	var ue *translate.UnsupportedError
	fmt.Println(errors.As(err, &ue), ue.Field)
	// Output:
	// {"messages":[{"role":"user","content":[{"text":"Hi"}]}],"system":[{"text":"Be brief."}],"inferenceConfig":{"maxTokens":50,"stopSequences":["END"]}} <nil>
	// true logit_bias
}

// A Converse backend's stream shown to an OpenAI client.
func ExampleNewStream() {
	s, _ := translate.NewStream(translate.Converse, translate.OpenAI, translate.ResponseMeta{ID: "chatcmpl-1", Model: "m", Created: 1})
	for _, e := range []translate.Event{
		{Type: "messageStart", Data: []byte(`{"role":"assistant"}`)},
		{Type: "contentBlockDelta", Data: []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello"}}`)},
		{Type: "messageStop", Data: []byte(`{"stopReason":"end_turn"}`)},
	} {
		out, _ := s.Next(e)
		for _, c := range out {
			fmt.Println(string(c.Data))
		}
	}
	// Output:
	// {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
	// {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}
	// {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
}
