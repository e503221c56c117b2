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

// registerNotFound answers every path under an API's prefix that mux does
// not serve, in that API's error shape: 404 for an unknown path, 405 (with
// Allow) for a served path asked with another method. Go's own answers are
// plain text, which no API client can read.
func registerNotFound(mux *http.ServeMux) {
	for _, p := range []string{"/v1", "/v1/", "/model", "/model/", "/inference-profiles", "/inference-profiles/"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			notFound(mux, w, r)
		})
	}
}

// probeMethods are the methods an API route may be served with.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}

func notFound(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
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
	switch {
	case r.URL.Path == "/v1/messages" || strings.HasPrefix(r.URL.Path, "/v1/messages/"):
		anthropic.NotFound(w, r, allow)
	case r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/"):
		// OpenAI's answer to an unknown URL.
		msg := "Invalid URL (" + method + " " + path + ")"
		if allow != nil {
			msg = "Method " + method + " is not allowed on " + path + "; use " + strings.Join(allow, " or ")
		}
		writeAPIError(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}})
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
