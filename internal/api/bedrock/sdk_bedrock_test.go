package bedrock_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// bedrockCluster is wholeCluster with Bedrock-shaped deployments: the
// simulated model is reached through the Bedrock adapter (Converse and
// InvokeModel), demo.br in both regions, demo.brfar only in eu-central-1.
func bedrockCluster(t *testing.T) *cluster {
	t.Helper()
	return dialectCluster(t, `models:
  - {id: demo.br}
  - {id: demo.brfar}
deployments:
  - {model: demo.br, region: eu-west-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.br, region: eu-central-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.brfar, region: eu-central-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
`)
}

// dialectCluster starts eu-west-1 and eu-central-1 with the models and
// deployments given.
func dialectCluster(t *testing.T, deployments string) *cluster {
	t.Helper()
	return bootCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, deployments, "", "")
}

var servedBedrock = []struct{ name, model string }{
	{"local", "eu.demo.br"},
	{"forwarded", "eu.demo.brfar"},
}

func weatherToolConfig() *types.ToolConfiguration {
	return &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name: aws.String("get_weather"), InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
			"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}})}}}}}
}

// converse runs Converse or ConverseStream and returns the answer's
// content, stop reason and usage.
func converse(t *testing.T, rt *bedrockruntime.Client, in *bedrockruntime.ConverseInput, stream bool) ([]types.ContentBlock, types.StopReason, *types.TokenUsage) {
	t.Helper()
	if !stream {
		out, err := rt.Converse(t.Context(), in)
		if err != nil {
			t.Fatalf("Converse: %v", err)
		}
		return out.Output.(*types.ConverseOutputMemberMessage).Value.Content, out.StopReason, out.Usage
	}
	out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, System: in.System,
		ToolConfig: in.ToolConfig, InferenceConfig: in.InferenceConfig})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	es := out.GetStream()
	defer es.Close()
	var blocks []types.ContentBlock
	var text strings.Builder
	var tool *types.ToolUseBlock
	var input strings.Builder
	var stop types.StopReason
	var usage *types.TokenUsage
	for ev := range es.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockStart:
			if tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
				tool = &types.ToolUseBlock{ToolUseId: tu.Value.ToolUseId, Name: tu.Value.Name}
				input.Reset()
			}
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				text.WriteString(d.Value)
			case *types.ContentBlockDeltaMemberToolUse:
				input.WriteString(aws.ToString(d.Value.Input))
			}
		case *types.ConverseStreamOutputMemberContentBlockStop:
			if tool != nil {
				var m map[string]any
				if err := json.Unmarshal([]byte(input.String()), &m); err != nil {
					t.Fatalf("tool input %q: %v", input.String(), err)
				}
				tool.Input = document.NewLazyDocument(m)
				blocks = append(blocks, &types.ContentBlockMemberToolUse{Value: *tool})
				tool = nil
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			stop = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			usage = v.Value.Usage
		}
	}
	if err := es.Err(); err != nil {
		t.Fatalf("ConverseStream events: %v", err)
	}
	if text.Len() > 0 {
		blocks = append(blocks, &types.ContentBlockMemberText{Value: text.String()})
	}
	return blocks, stop, usage
}

// TestBedrockSDKWhole: Converse with tools, images, documents and cache
// points, and InvokeModel with Anthropic bodies of any anthropic_version,
// with the official aws-sdk-go-v2 client unmodified, served locally and
// forwarded over the link, passed through to a Bedrock-shaped deployment.
func TestBedrockSDKWhole(t *testing.T) {
	c := bedrockCluster(t)
	rt := c.runtimeClient("eu-west-1")
	for _, sv := range servedBedrock {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("%s/stream=%v", sv.name, stream)
			t.Run(name+"/tool round trip", func(t *testing.T) {
				in := &bedrockruntime.ConverseInput{ModelId: aws.String(sv.model), ToolConfig: weatherToolConfig(), Messages: []types.Message{{Role: types.ConversationRoleUser,
					Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Weather in Paris?"}}}}}
				blocks, stop, _ := converse(t, rt, in, stream)
				if stop != types.StopReasonToolUse || len(blocks) != 1 {
					t.Fatalf("answer %+v stop %q, want one tool use", blocks, stop)
				}
				tu, ok := blocks[0].(*types.ContentBlockMemberToolUse)
				if !ok || aws.ToString(tu.Value.Name) != "get_weather" {
					t.Fatalf("block %#v, want get_weather", blocks[0])
				}
				in.Messages = append(in.Messages, types.Message{Role: types.ConversationRoleAssistant, Content: blocks},
					types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
						ToolUseId: tu.Value.ToolUseId, Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "21 C"}}}}}})
				final, stop, _ := converse(t, rt, in, stream)
				if stop != types.StopReasonEndTurn || len(final) != 1 {
					t.Fatalf("final answer %+v stop %q, want text", final, stop)
				}
				if txt, ok := final[0].(*types.ContentBlockMemberText); !ok || txt.Value == "" {
					t.Fatalf("final block %#v, want text", final[0])
				}
			})
			t.Run(name+"/parallel tool use", func(t *testing.T) {
				tc := weatherToolConfig()
				tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String("get_time"),
					InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object", "properties": map[string]any{}})}}})
				blocks, stop, _ := converse(t, rt, &bedrockruntime.ConverseInput{ModelId: aws.String(sv.model), ToolConfig: tc, Messages: []types.Message{{Role: types.ConversationRoleUser,
					Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Weather and time?"}}}}}, stream)
				if stop != types.StopReasonToolUse || len(blocks) != 2 {
					t.Fatalf("answer %+v stop %q, want two tool uses", blocks, stop)
				}
				a, _ := blocks[0].(*types.ContentBlockMemberToolUse)
				b, _ := blocks[1].(*types.ContentBlockMemberToolUse)
				if a == nil || b == nil || aws.ToString(a.Value.Name) != "get_weather" || aws.ToString(b.Value.Name) != "get_time" || aws.ToString(a.Value.ToolUseId) == aws.ToString(b.Value.ToolUseId) {
					t.Fatalf("tool uses %#v %#v", blocks[0], blocks[1])
				}
			})
			t.Run(name+"/image, document and cache point", func(t *testing.T) {
				// A prefix of 1024 tokens or more up to a cache point is written
				// by the first request and read by a repeat to the same
				// deployment.
				long := strings.Repeat("Clause 4 applies to every shipment. ", 120)
				read := false
				for range 3 {
					_, _, usage := converse(t, rt, &bedrockruntime.ConverseInput{ModelId: aws.String(sv.model),
						System: []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: long}, &types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}},
						Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
							&types.ContentBlockMemberText{Value: "What is in these?"},
							&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatPng, Source: &types.ImageSourceMemberBytes{Value: []byte("\x89PNG\r\n")}}},
							&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatTxt, Name: aws.String("terms"), Source: &types.DocumentSourceMemberBytes{Value: []byte("terms")}}},
						}}}}, stream)
					if usage == nil || aws.ToInt32(usage.CacheReadInputTokens)+aws.ToInt32(usage.CacheWriteInputTokens) <= 0 {
						t.Fatalf("usage %+v, want cache read or write tokens", usage)
					}
					read = read || aws.ToInt32(usage.CacheReadInputTokens) > 0
				}
				if !read {
					t.Fatal("no repeat reported cache read tokens")
				}
			})
			t.Run(name+"/InvokeModel Llama body", func(t *testing.T) {
				body := []byte(`{"prompt":"<|begin_of_text|>Hello","max_gen_len":16,"temperature":0.2,"x_unknown":[1,2]}`)
				if !stream {
					out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(sv.model), Body: body, ContentType: aws.String("application/json")})
					if err != nil {
						t.Fatalf("InvokeModel: %v", err)
					}
					var m struct {
						Generation           string `json:"generation"`
						GenerationTokenCount int    `json:"generation_token_count"`
					}
					if err := json.Unmarshal(out.Body, &m); err != nil || m.Generation == "" || m.GenerationTokenCount < 1 || m.GenerationTokenCount > 16 {
						t.Fatalf("answer %s (%v), want a Llama generation of at most 16 tokens", out.Body, err)
					}
					return
				}
				out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(sv.model), Body: body, ContentType: aws.String("application/json")})
				if err != nil {
					t.Fatalf("InvokeModelWithResponseStream: %v", err)
				}
				es := out.GetStream()
				defer es.Close()
				var text strings.Builder
				var metrics bool
				for ev := range es.Events() {
					if ch, ok := ev.(*types.ResponseStreamMemberChunk); ok {
						var e struct {
							Generation string          `json:"generation"`
							Metrics    json.RawMessage `json:"amazon-bedrock-invocationMetrics"`
						}
						json.Unmarshal(ch.Value.Bytes, &e)
						text.WriteString(e.Generation)
						metrics = metrics || e.Metrics != nil
					}
				}
				if err := es.Err(); err != nil || text.Len() == 0 || !metrics {
					t.Fatalf("stream text %q metrics %v err %v", text.String(), metrics, err)
				}
			})
			for _, version := range []string{"bedrock-2023-05-31", "2023-06-01"} {
				t.Run(name+"/InvokeModel anthropic_version "+version, func(t *testing.T) {
					body := `{"anthropic_version":"` + version + `","max_tokens":64,"x_unknown":{"kept":true},` +
						`"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],` +
						`"messages":[{"role":"user","content":[{"type":"text","text":"Weather?","cache_control":{"type":"ephemeral"}}]}]}`
					if !stream {
						out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(sv.model), Body: []byte(body), ContentType: aws.String("application/json")})
						if err != nil {
							t.Fatalf("InvokeModel: %v", err)
						}
						var m struct {
							StopReason string `json:"stop_reason"`
							Content    []struct{ Type, Name string }
						}
						if err := json.Unmarshal(out.Body, &m); err != nil || m.StopReason != "tool_use" || len(m.Content) != 1 || m.Content[0].Name != "get_weather" {
							t.Fatalf("answer %s (%v), want a get_weather tool use", out.Body, err)
						}
						return
					}
					out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(sv.model), Body: []byte(body), ContentType: aws.String("application/json")})
					if err != nil {
						t.Fatalf("InvokeModelWithResponseStream: %v", err)
					}
					es := out.GetStream()
					defer es.Close()
					var types_ []string
					for ev := range es.Events() {
						if ch, ok := ev.(*types.ResponseStreamMemberChunk); ok {
							var e struct{ Type string }
							json.Unmarshal(ch.Value.Bytes, &e)
							types_ = append(types_, e.Type)
						}
					}
					if err := es.Err(); err != nil {
						t.Fatal(err)
					}
					got := strings.Join(types_, ",")
					if !strings.Contains(got, "content_block_start,content_block_delta,content_block_stop") || !strings.HasSuffix(got, "message_delta,message_stop") {
						t.Fatalf("events %s", got)
					}
				})
			}
		}
	}
}
