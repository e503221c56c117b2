package mockllm

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
)

// DefaultEmbeddingDimensions is the length of a vector when the request
// names no dimensions (text-embedding-3-small's).
const DefaultEmbeddingDimensions = 1536

// maxEmbeddingDimensions bounds the dimensions a request may ask for.
const maxEmbeddingDimensions = 8192

// maxEmbeddingInputs bounds the inputs of one request, as OpenAI does.
const maxEmbeddingInputs = 2048

// serveEmbeddings answers POST /v1/embeddings with deterministic unit
// vectors: each input's vector is seeded by a hash of the input, so the
// same text always embeds the same way, and has the requested dimensions.
func (s *Server) serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	if e := s.gate(r); e != nil {
		e.write(w)
		return
	}
	bp, e := s.readBody(w, r)
	defer s.bufs.Put(bp)
	if e != nil {
		e.write(w)
		return
	}
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(*bp, &req); err != nil {
		invalidRequest("", "", "We could not parse the JSON body of your request.").write(w)
		return
	}
	if s.models != nil && !s.models[req.Model] {
		modelNotFound(req.Model).write(w)
		return
	}
	dims := DefaultEmbeddingDimensions
	if req.Dimensions != nil {
		if *req.Dimensions <= 0 || *req.Dimensions > maxEmbeddingDimensions {
			invalidRequest("dimensions", "", "dimensions must be between 1 and "+strconv.Itoa(maxEmbeddingDimensions)+".").write(w)
			return
		}
		dims = *req.Dimensions
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		invalidRequest("encoding_format", "", "encoding_format must be float or base64.").write(w)
		return
	}
	inputs, tokens, ok := embeddingInputs(req.Input)
	if !ok || len(inputs) == 0 || len(inputs) > maxEmbeddingInputs {
		invalidRequest("input", "", "input must be a non-empty string, array of strings, token array or array of token arrays (at most 2048 items).").write(w)
		return
	}
	// A model server throttles embeddings as it throttles chat: the same
	// outage, throttle, injected failures, concurrency limit and RPM and
	// TPM windows (charged the input tokens), with the same 429s.
	st, start := s.cur.Load(), s.clock.Now()
	h := w.Header()
	reject := func(e *apiError) {
		if st.limits.any() && h.Get(HeaderLimitRequests)+h.Get(HeaderLimitTokens) == "" {
			s.win.headers(start, st.limits, h)
		}
		e.write(w)
	}
	if e := s.admitOpenAI(st, req.Model); e != nil {
		reject(e)
		return
	}
	defer s.stats.inFlight.Add(-1)
	if st.limits.any() {
		if _, e := s.win.admit(start, st.limits, tokens, req.Model, h); e != nil {
			s.stats.throttled.Add(1)
			reject(e)
			return
		}
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	out := struct {
		Object string `json:"object"`
		Data   []item `json:"data"`
		Model  string `json:"model"`
		Usage  struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}{Object: "list", Data: make([]item, len(inputs)), Model: req.Model}
	for i, in := range inputs {
		v := Embedding(in, dims)
		var emb any = v
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		out.Data[i] = item{Object: "embedding", Index: i, Embedding: emb}
	}
	out.Usage.PromptTokens, out.Usage.TotalTokens = tokens, tokens
	b, _ := json.Marshal(out)
	h.Set("Content-Type", "application/json")
	s.stats.promptTokens.Add(int64(tokens))
	if _, err := w.Write(b); err != nil {
		s.stats.canceled.Add(1)
		return
	}
	s.stats.served.Add(1)
}

// Embedding returns the deterministic unit vector of dims dimensions that
// the simulator answers for input, on the OpenAI face and for Bedrock's
// Titan and Cohere models alike.
func Embedding(input []byte, dims int) []float32 {
	v, norm := embeddingSequence(input, dims)
	if norm = math.Sqrt(norm); norm > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / norm)
		}
	}
	return v
}

// rawEmbedding is Embedding before normalization (components in [-1, 1]):
// Titan's answer to normalize false.
func rawEmbedding(input []byte, dims int) []float32 {
	v, _ := embeddingSequence(input, dims)
	return v
}

// embeddingSequence returns the generator's dims values seeded by input,
// and the sum of their squares.
func embeddingSequence(input []byte, dims int) ([]float32, float64) {
	h := fnv.New64a()
	h.Write(input)
	x := h.Sum64() | 1
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		// xorshift64*: a cheap, portable sequence seeded by the input.
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		f := float64(int64(x*2685821657736338717)) / math.MaxInt64
		v[i] = float32(f)
		norm += f * f
	}
	return v, norm
}

// embeddingInputs returns the inputs of an embeddings input member (a
// token array is embedded as its JSON text) and their token count.
func embeddingInputs(raw json.RawMessage) (inputs [][]byte, tokens int, ok bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return [][]byte{[]byte(s)}, estimateTokens(s), s != ""
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, 0, false
	}
	var toks []int
	if len(items) > 0 && json.Unmarshal(raw, &toks) == nil {
		return [][]byte{raw}, len(toks), true
	}
	for _, it := range items {
		if json.Unmarshal(it, &s) == nil {
			if s == "" {
				return nil, 0, false
			}
			inputs, tokens = append(inputs, []byte(s)), tokens+estimateTokens(s)
			continue
		}
		if json.Unmarshal(it, &toks) != nil || len(toks) == 0 {
			return nil, 0, false
		}
		inputs, tokens = append(inputs, it), tokens+len(toks)
	}
	return inputs, tokens, true
}

func estimateTokens(s string) int { return max(1, (len(s)+3)/4) }
