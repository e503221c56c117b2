package mockllm_test

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

func newClient(url string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(url+"/v1/"),
		option.WithAPIKey("sk-test"),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(30*time.Second), // hang guard only
	)
}

func chatParams(model, prompt string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage(prompt),
		},
	}
}

// wantPrompt is the prompt size the server must report for chatParams: four
// tokens per message plus a quarter of each text's bytes, rounded up.
func wantPrompt(prompt string) int64 {
	return int64(4 + (len("You are terse.")+3)/4 + 4 + (len(prompt)+3)/4)
}

func TestOpenAIClient(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{Models: []string{"chat-small"}, Seed: 1})
	client := newClient(url)
	ctx := t.Context()

	got, err := client.Chat.Completions.New(ctx, chatParams("chat-small", "Where is Dublin?"))
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	if got.Object != "chat.completion" || got.Model != "chat-small" || !strings.HasPrefix(got.ID, "chatcmpl-") || got.Created == 0 {
		t.Errorf("completion header = {object %q, model %q, id %q, created %d}, want chat.completion, chat-small, chatcmpl-…, non-zero",
			got.Object, got.Model, got.ID, got.Created)
	}
	if len(got.Choices) != 1 {
		t.Fatalf("got %d choices, want 1", len(got.Choices))
	}
	c := got.Choices[0]
	if c.Message.Role != "assistant" || c.FinishReason != "stop" || c.Message.Content == "" {
		t.Errorf("choice = {role %q, finish %q, content %q}, want assistant, stop, some text", c.Message.Role, c.FinishReason, c.Message.Content)
	}
	words := int64(len(strings.Fields(c.Message.Content)))
	if got.Usage.CompletionTokens != words {
		t.Errorf("usage.completion_tokens = %d, want %d (one per word of %q)", got.Usage.CompletionTokens, words, c.Message.Content)
	}
	if want := wantPrompt("Where is Dublin?"); got.Usage.PromptTokens != want {
		t.Errorf("usage.prompt_tokens = %d, want %d", got.Usage.PromptTokens, want)
	}
	if got.Usage.TotalTokens != got.Usage.PromptTokens+got.Usage.CompletionTokens {
		t.Errorf("usage.total_tokens = %d, want %d", got.Usage.TotalTokens, got.Usage.PromptTokens+got.Usage.CompletionTokens)
	}

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatalf("Models.List: %v", err)
	}
	if len(models.Data) != 1 || models.Data[0].ID != "chat-small" {
		t.Errorf("Models.List = %+v, want just chat-small", models.Data)
	}

	_, err = client.Chat.Completions.New(ctx, chatParams("chat-large", "hi"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" {
		t.Errorf("unknown model: err = %v, want a 404 model_not_found", err)
	}
}

func TestOpenAIClientStreaming(t *testing.T) {
	t.Parallel()
	// Paced, on a clock that jumps to each deadline: every wait is armed
	// and none takes wall-clock time.
	_, url := start(t, mockllm.Config{Seed: 7, TTFT: time.Millisecond, TokensPerSecond: 2000, Clock: jumpClock{newFakeClock()}})
	client := newClient(url)
	ctx := t.Context()
	params := chatParams("any-model", "Tell me about Frankfurt.")

	whole, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	var deltas, roles, finishes int
	var usageChunks int
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if ch.Object != "chat.completion.chunk" {
			t.Errorf("chunk object = %q, want chat.completion.chunk", ch.Object)
		}
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			usageChunks++
			if len(ch.Choices) != 0 {
				t.Errorf("usage chunk has %d choices, want 0", len(ch.Choices))
			}
		}
		for _, c := range ch.Choices {
			if c.Delta.Role != "" {
				roles++
			}
			if c.Delta.Content != "" {
				deltas++
			}
			if c.FinishReason != "" {
				finishes++
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if roles != 1 || finishes != 1 || usageChunks != 1 {
		t.Errorf("stream had %d role chunks, %d finish chunks, %d usage chunks; want 1 of each", roles, finishes, usageChunks)
	}
	got := acc.Choices[0].Message.Content
	if want := whole.Choices[0].Message.Content; got != want {
		t.Errorf("streamed content = %q, want the non-streamed %q", got, want)
	}
	if acc.Usage.CompletionTokens != int64(deltas) {
		t.Errorf("usage.completion_tokens = %d, want %d (the content deltas streamed)", acc.Usage.CompletionTokens, deltas)
	}
	if a, w := acc.Usage, whole.Usage; a.PromptTokens != w.PromptTokens || a.CompletionTokens != w.CompletionTokens || a.TotalTokens != w.TotalTokens {
		t.Errorf("streamed usage = %d+%d=%d, want the non-streamed %d+%d=%d",
			a.PromptTokens, a.CompletionTokens, a.TotalTokens, w.PromptTokens, w.CompletionTokens, w.TotalTokens)
	}
	if acc.Choices[0].FinishReason != "stop" {
		t.Errorf("finish_reason = %q, want stop", acc.Choices[0].FinishReason)
	}
}

func TestOpenAIClientErrors(t *testing.T) {
	t.Parallel()
	srv, url := start(t, mockllm.Config{RPM: 100, TPM: 100000})
	client := newClient(url)

	srv.SetThrottled(3 * time.Second)
	_, err := client.Chat.Completions.New(t.Context(), chatParams("m", "hi"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Code != "rate_limit_exceeded" {
		t.Fatalf("throttled: err = %v, want 429 rate_limit_exceeded", err)
	}
	if got := apiErr.Response.Header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3", got)
	}
	if got := apiErr.Response.Header.Get("X-Ratelimit-Limit-Requests"); got != "100" {
		t.Errorf("x-ratelimit-limit-requests = %q, want 100", got)
	}
	srv.SetThrottled(0)
	srv.SetDown(true)
	stream := client.Chat.Completions.NewStreaming(t.Context(), chatParams("m", "hi"))
	for stream.Next() {
	}
	if !errors.As(stream.Err(), &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.Code != "service_unavailable" {
		t.Errorf("down, streaming: err = %v, want 503 service_unavailable", stream.Err())
	}
}

// TestEndpointsListed: `meridian mockllm -h` (Endpoints) names every route
// the handler serves, and every path it names is served.
func TestEndpointsListed(t *testing.T) {
	t.Parallel()
	for _, r := range mockllm.Routes {
		_, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{model...}", "{id}", "{op}", "").Replace(path)
		if !strings.Contains(mockllm.Endpoints, path) {
			t.Errorf("Endpoints does not name %s (route %q)", path, r)
		}
	}
	_, url := start(t, mockllm.Config{})
	listed := regexp.MustCompile(`/[A-Za-z0-9_{}/.-]+`).FindAllString(mockllm.Endpoints, -1)
	if len(listed) < 10 {
		t.Fatalf("Endpoints names %d paths: %q", len(listed), listed)
	}
	for _, p := range listed {
		p = strings.NewReplacer("{id}", "m", "{modelId}", "anthropic.claude-sonnet-4-5").Replace(p)
		served := false
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequestWithContext(t.Context(), method, url+p, strings.NewReader(`{}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			served = served || resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
		}
		if !served {
			t.Errorf("Endpoints names %s, which is not served", p)
		}
	}
}
