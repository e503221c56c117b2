package node

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// registerNotFound answers every request that no other route of mux serves,
// in the error shape of the API its caller speaks (dialectOf): 404 for an
// unknown path, 405 (with Allow) for a served path asked with another
// method. Go's own answers are plain text, which no API client can read: an
// AWS SDK fails to decode "404 page not found" as JSON instead of
// returning a typed error.
//
// record, when set, records the request (recordUnrouted) before the
// answer; false when it answered itself (503).
func registerNotFound(mux *http.ServeMux, record func(w http.ResponseWriter, r *http.Request, status int) bool) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(mux, w, r, record)
	})
}

// dialect is the API whose error shape an unserved request is answered in.
type dialect int

const (
	dialectBedrock dialect = iota // REST-JSON: x-amzn-ErrorType, {"message"}
	dialectOpenAI
	dialectAnthropic
	dialectMeridian // the node's own endpoints (console, probes, metrics)
)

// bedrockRoots are the first path segments of every operation of
// bedrock-runtime and of the bedrock control plane (the URIs of
// aws-sdk-go-v2's service/bedrockruntime and service/bedrock). Meridian
// serves Converse, ConverseStream, InvokeModel,
// InvokeModelWithResponseStream and the inference-profile operations
// (docs/bedrock.md); a client of any other operation gets Bedrock's
// UnknownOperationException, which its SDK types.
var bedrockRoots = map[string]bool{
	// bedrock-runtime
	"model": true, "guardrail": true, "guardrail-checks": true, "async-invoke": true,
	// bedrock (control plane)
	"advanced-prompt-optimization-job": true, "advanced-prompt-optimization-jobs": true,
	"automated-reasoning-policies": true, "create-foundation-model-agreement": true, "custom-models": true,
	"delete-foundation-model-agreement": true, "enforcedGuardrailsConfiguration": true, "evaluation-job": true,
	"evaluation-jobs": true, "foundation-model-availability": true, "foundation-models": true, "guardrails": true,
	"imported-models": true, "inference-profiles": true, "list-foundation-model-agreement-offers": true,
	"listTagsForResource": true, "logging": true, "marketplace-model": true, "model-copy-jobs": true,
	"model-customization": true, "model-customization-jobs": true, "model-import-jobs": true,
	"model-invocation-job": true, "model-invocation-jobs": true, "prompt-routers": true,
	"provisioned-model-throughput": true, "provisioned-model-throughputs": true, "resource-policy": true,
	"tagResource": true, "untagResource": true, "use-case-for-model-access": true,
}

// openAIRoots are OpenAI resources an OpenAI client asks for at the root
// when its base URL lacks /v1.
var openAIRoots = map[string]bool{
	"chat": true, "completions": true, "responses": true, "embeddings": true, "models": true,
	"files": true, "batches": true, "images": true, "audio": true, "moderations": true,
}

// under reports whether path is prefix or lies below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// dialectOf decides, from the path and then the headers, which API the
// caller of an unserved request speaks. A caller the path and headers say
// nothing about is answered as Bedrock: {"message"} JSON, which any client
// can read.
func dialectOf(r *http.Request) dialect {
	p := r.URL.Path
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	second, _, _ := strings.Cut(strings.TrimPrefix(p, "/v1/"), "/")
	switch {
	case under(p, "/v1/messages"), under(p, "/v1/v1/messages"), under(p, "/messages"):
		// The last two: an Anthropic client's base URL with /v1 too many
		// or too few (anthropic.PathHint).
		return dialectAnthropic
	case first == "v1" && (second == "model" || second == "inference-profiles"):
		// A Bedrock client whose endpoint ends with /v1 (bedrock.NotFound
		// says so).
		return dialectBedrock
	case under(p, "/v1"):
		if anthropic.WantsModelShape(r) {
			return dialectAnthropic
		}
		return dialectOpenAI
	case first == "meridian" || first == "ui" || p == "/healthz" || p == "/readyz" || p == "/metrics":
		return dialectMeridian
	case bedrockRoots[first] || strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256"):
		return dialectBedrock
	case anthropic.WantsModelShape(r):
		return dialectAnthropic
	case openAIRoots[first]:
		return dialectOpenAI
	}
	return dialectBedrock
}

// probeMethods are the methods an API route may be served with.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}

func notFound(mux *http.ServeMux, w http.ResponseWriter, r *http.Request, record func(w http.ResponseWriter, r *http.Request, status int) bool) {
	_, self := mux.Handler(r)
	var allow []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := mux.Handler(r2); p != "" && p != self {
			allow = append(allow, m)
		}
	}
	path := inference.Clip(r.URL.Path, inference.EchoLimit)
	method := inference.Clip(r.Method, 16)
	status := http.StatusNotFound
	if allow != nil {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	if record != nil && !record(w, r, status) {
		return
	}
	switch dialectOf(r) {
	case dialectAnthropic:
		anthropic.NotFound(w, r, allow)
	case dialectOpenAI:
		// OpenAI's answer to an unknown URL.
		msg := "Invalid URL (" + method + " " + path + ")"
		if allow != nil {
			msg = "Method " + method + " is not allowed on " + path + "; use " + strings.Join(allow, " or ")
		} else if !under(r.URL.Path, "/v1") {
			msg += "; Meridian serves the OpenAI API under /v1: end the client's base URL with /v1"
		} else if under(r.URL.Path, "/v1/v1") {
			msg += "; the path repeats /v1: end the client's base URL with a single /v1"
		}
		writeAPIError(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}})
	case dialectMeridian:
		msg := "no endpoint " + method + " " + path + " (docs/operations.md lists the node's endpoints)"
		if allow != nil {
			msg = "method " + method + " is not allowed on " + path + "; use " + strings.Join(allow, " or ")
		}
		writeOpsError(w, status, msg)
	default:
		// Bedrock's (REST-JSON) answer to an operation it does not know.
		bedrock.NotFound(w, r, allow)
	}
}

func writeAPIError(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
