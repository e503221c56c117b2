package translate

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// newResponse returns the response object for req with the request's
// settings echoed, as the Responses API does, status in_progress and no
// output. Nothing is stored, so store is false.
func newResponse(req *openai.ResponsesRequest, meta ResponseMeta) *openai.Response {
	resp := &openai.Response{
		ID: meta.ID, Object: "response", CreatedAt: meta.Created, Status: openai.StatusInProgress,
		Model: meta.Model, Output: []openai.Item{}, ParallelToolCalls: true, Store: ptr(false),
		Tools: []openai.ResponseTool{}, Metadata: map[string]string{}, Truncation: "disabled",
		Text:       &openai.TextConfig{Format: &openai.TextFormat{Type: openai.FormatText}},
		ToolChoice: &openai.ResponseToolChoice{Mode: "auto"},
	}
	if req == nil {
		return resp
	}
	if req.Instructions != "" {
		resp.Instructions, _ = json.Marshal(req.Instructions)
	}
	resp.MaxOutputTokens, resp.Temperature, resp.TopP = req.MaxOutputTokens, req.Temperature, req.TopP
	resp.Reasoning, resp.User, resp.ServiceTier = req.Reasoning, req.User, req.ServiceTier
	if req.ParallelToolCalls != nil {
		resp.ParallelToolCalls = *req.ParallelToolCalls
	}
	if req.Tools != nil {
		resp.Tools = req.Tools
	}
	if req.Metadata != nil {
		resp.Metadata = req.Metadata
	}
	if req.Text != nil && req.Text.Format != nil {
		resp.Text = req.Text
	}
	if req.ToolChoice != nil {
		resp.ToolChoice = req.ToolChoice
	}
	return resp
}

// itemIDs names output items after the response id: "resp_abc" gives
// "msg_abc_0", "fc_abc_1", "rs_abc_2" (the suffix is the output index).
type itemIDs string

func (b itemIDs) id(prefix string, outputIndex int) string {
	base, _ := strings.CutPrefix(string(b), "resp_")
	return prefix + "_" + base + "_" + strconv.Itoa(outputIndex)
}

// finishStatus maps a Chat Completions finish reason to a response status.
func finishStatus(finish string) (string, *openai.IncompleteDetails) {
	switch finish {
	case openai.FinishLength:
		return openai.StatusIncomplete, &openai.IncompleteDetails{Reason: openai.IncompleteMaxOutputTokens}
	case openai.FinishContentFilter:
		return openai.StatusIncomplete, &openai.IncompleteDetails{Reason: openai.IncompleteContentFilter}
	}
	return openai.StatusCompleted, nil
}

func chatUsageToResponses(u *openai.Usage) *openai.ResponseUsage {
	if u == nil {
		return nil
	}
	out := &openai.ResponseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	if d := u.PromptTokensDetails; d != nil {
		out.InputTokensDetails.CachedTokens = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.OutputTokensDetails.ReasoningTokens = d.ReasoningTokens
	}
	return out
}

// chatAnnotations converts Chat url_citation annotations
// ({"type","url_citation":{...}}) to the flat Responses form; others pass.
func chatAnnotations(raw json.RawMessage) []json.RawMessage {
	out := []json.RawMessage{}
	var list []map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &list) != nil {
		return out
	}
	for _, a := range list {
		var inner map[string]json.RawMessage
		if c, ok := a["url_citation"]; ok && json.Unmarshal(c, &inner) == nil {
			delete(a, "url_citation")
			for k, v := range inner {
				a[k] = v
			}
		}
		if b, err := json.Marshal(a); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// OpenAIToResponsesResponse translates a Chat Completions response into a
// Responses response object for req: a reasoning item (from
// reasoning_content), a message item (text, refusal), then a function_call
// item per tool call. Finish reason length or content_filter makes the
// response incomplete. Logprobs are not carried.
func OpenAIToResponsesResponse(req *openai.ResponsesRequest, resp *openai.ChatCompletion, meta ResponseMeta) (*openai.Response, error) {
	return chatToResponses(req, resp, meta, nil)
}

// chatToResponses is OpenAIToResponsesResponse with Claude's reasoning
// blocks to carry in the reasoning item's encrypted_content.
func chatToResponses(req *openai.ResponsesRequest, resp *openai.ChatCompletion, meta ResponseMeta, carried []carriedReasoning) (*openai.Response, error) {
	out := newResponse(req, meta)
	if len(resp.Choices) > 1 {
		return nil, &UnsupportedError{Field: "choices", Target: "OpenAI Responses", Reason: "a response has one output"}
	}
	out.Usage = chatUsageToResponses(resp.Usage)
	if resp.ServiceTier != "" {
		out.ServiceTier = resp.ServiceTier // the tier that served it, not the one asked for
	}
	out.Status = openai.StatusCompleted
	if len(resp.Choices) == 0 {
		return out, nil
	}
	c := resp.Choices[0]
	out.Status, out.IncompleteDetails = finishStatus(c.FinishReason)
	ids, m := itemIDs(meta.ID), c.Message
	if !wantsEncrypted(req) {
		carried = nil
	}
	if text := deref(openAIReasoning(m.ReasoningContent, m.Extra)); text != "" || carried != nil {
		item := openai.Item{Type: openai.ItemReasoning, ID: ids.id("rs", len(out.Output)), Summary: []openai.ItemPart{}}
		if text != "" {
			item.Summary = []openai.ItemPart{{Type: openai.PartSummaryText, Text: text}}
		}
		if carried != nil {
			item.EncryptedContent = ptr(encodeReasoning(carried))
		}
		out.Output = append(out.Output, item)
	}
	var parts []openai.ItemPart
	if m.Content != nil {
		var text strings.Builder
		if m.Content.IsParts() {
			for _, p := range m.Content.Parts {
				text.WriteString(p.Text)
			}
		} else {
			text.WriteString(m.Content.Text)
		}
		if text.Len() > 0 {
			parts = append(parts, openai.ItemPart{Type: openai.PartOutputText, Text: text.String(), Annotations: chatAnnotations(m.Annotations)})
		}
	}
	if m.Refusal != nil && *m.Refusal != "" {
		parts = append(parts, openai.ItemPart{Type: openai.PartOutputRefusal, Refusal: *m.Refusal})
	}
	if parts != nil {
		out.Output = append(out.Output, openai.Item{Type: openai.ItemMessage, ID: ids.id("msg", len(out.Output)),
			Status: out.Status, Role: openai.RoleAssistant, Content: &openai.ItemContent{Parts: parts}})
	}
	for _, tc := range m.ToolCalls {
		out.Output = append(out.Output, openai.Item{Type: openai.ItemFunctionCall, ID: ids.id("fc", len(out.Output)),
			Status: openai.StatusCompleted, CallID: tc.ID, Name: tc.Function.Name, Arguments: ptr(tc.Function.Arguments)})
	}
	return out, nil
}
