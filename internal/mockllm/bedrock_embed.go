package mockllm

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file serves Bedrock's embedding models: InvokeModel with the bodies
// of Amazon Titan Text Embeddings (v1 and v2), Amazon Titan Multimodal
// Embeddings and Cohere Embed (v3 and v4).
// As on Bedrock, the model id in the path says which body the model takes:
// a Titan or Cohere id is an embedding model, and any other body sent to it
// (a chat body, the other family's) is a ValidationException, as are
// Converse and streaming. Vectors are those of the OpenAI face
// ([Embedding]): the same text and dimensions give the same unit vector.
// Bodies are validated like Bedrock's JSON schemas: unknown members, a
// missing required member, a wrong type or a value outside its enum is a
// 400 ValidationException in Bedrock's words.

// embedFamily is the body an embedding model takes.
type embedFamily int

const (
	notEmbedding embedFamily = iota
	titanV1                  // amazon.titan-embed-text-v1: inputText only, 1536 dimensions
	titanV2                  // amazon.titan-embed-text-v2:0
	titanImage               // amazon.titan-embed-image-v1: inputText and/or inputImage, embeddingConfig
	cohereV3                 // cohere.embed-english-v3, cohere.embed-multilingual-v3
	cohereV4                 // cohere.embed-v4:0
)

// bedrockEmbedFamily returns the embedding family of a model id (a
// foundation model id, an inference profile id or an ARN holding one), or
// notEmbedding for a chat model. It is the simulator's own reading of
// Bedrock, as the package imports only the standard library; a test holds
// it to the gateway's (topology.BedrockEmbeddingFamily).
func bedrockEmbedFamily(model string) embedFamily {
	switch {
	case strings.Contains(model, "titan-embed-text-v2"):
		return titanV2
	case strings.Contains(model, "titan-embed-image"):
		return titanImage
	case strings.Contains(model, "titan-embed"):
		return titanV1
	case strings.Contains(model, "cohere.embed-v4"):
		return cohereV4
	case strings.Contains(model, "cohere.embed"):
		return cohereV3
	}
	return notEmbedding
}

// Limits of the embedding models, as Bedrock documents them.
const (
	titanMaxChars   = 50000 // inputText
	titanMaxTokens  = 8192
	titanImageText  = 128 // tokens of a multimodal model's inputText
	cohereMaxTexts  = 96
	cohereV3MaxText = 2048 // characters per text
	cohereV3Images  = 1
)

var (
	titanV2Dimensions  = []int{256, 512, 1024}
	titanImageLengths  = []int{256, 384, 1024}
	titanEmbedTypes    = []string{"float", "binary"}
	cohereV4Dimensions = []int{256, 512, 1024, 1536}
	cohereEmbedTypes   = []string{"float", "int8", "uint8", "binary", "ubinary"}
	cohereInputTypes   = []string{"search_document", "search_query", "classification", "clustering"}
)

// embedJob is a decoded embedding body: what to embed and how to answer.
type embedJob struct {
	family embedFamily
	// inputs are embedded in order; texts are the ones Cohere echoes.
	inputs [][]byte
	texts  []string
	dims   int
	// normalize false (Titan v2) answers the generator's raw vector, of
	// the same direction as the unit one.
	normalize bool
	// types are the requested embedding types, in request order without
	// repeats; nil when the body names none.
	types  []string
	tokens int
}

// embedError is a body the model's schema refuses; the message is in
// Bedrock's words without the "Malformed input request: " prefix.
type embedError string

func (e embedError) Error() string { return string(e) }

func embedErrorf(format string, args ...any) embedError {
	return embedError(fmt.Sprintf(format, args...))
}

// clipKey bounds a caller's member name echoed in an error.
func clipKey(k string) string {
	if len(k) <= 64 {
		return k
	}
	for i := 64; i > 0; i-- {
		if utf8.RuneStart(k[i]) {
			return k[:i] + "…"
		}
	}
	return "…"
}

// jsonType names the JSON type of raw as Bedrock's validator does.
func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "Null"
	}
	switch raw[0] {
	case '"':
		return "String"
	case '{':
		return "JSONObject"
	case '[':
		return "JSONArray"
	case 't', 'f':
		return "Boolean"
	case 'n':
		return "Null"
	}
	if strings.ContainsAny(string(raw), ".eE") {
		return "BigDecimal"
	}
	return "Integer"
}

// embedObject splits a body into its members and refuses members outside
// allowed (the first in sorted order, as a schema validator reports).
func embedObject(body []byte, allowed ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, embedError("#: expected type: JSONObject, found: " + jsonType(json.RawMessage(trimSpace(body))))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(allowed, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		return nil, embedErrorf("#: extraneous key [%s] is not permitted", clipKey(keys[0]))
	}
	return m, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

func embedString(m map[string]json.RawMessage, key string) (string, bool, error) {
	raw, ok := m[key]
	if !ok {
		return "", false, nil
	}
	var s string
	if jsonType(raw) != "String" || json.Unmarshal(raw, &s) != nil {
		return "", true, embedErrorf("#/%s: expected type: String, found: %s", key, jsonType(raw))
	}
	return s, true, nil
}

func embedInt(m map[string]json.RawMessage, key string) (int, bool, error) {
	raw, ok := m[key]
	if !ok {
		return 0, false, nil
	}
	var n int
	if jsonType(raw) != "Integer" {
		return 0, true, embedErrorf("#/%s: expected type: Integer, found: %s", key, jsonType(raw))
	}
	if json.Unmarshal(raw, &n) != nil {
		return 0, true, embedErrorf("#/%s: %s is out of range", key, clipKey(string(raw)))
	}
	return n, true, nil
}

// embedEnum checks s against its enum at path.
func embedEnum(path, s string, values []string) error {
	if !slices.Contains(values, s) {
		return embedErrorf("#/%s: %s is not a valid enum value", path, strconv.Quote(clipKey(s)))
	}
	return nil
}

// embedStrings reads a list of strings at key, with at least min items.
func embedStrings(m map[string]json.RawMessage, key string, minItems int) ([]string, bool, error) {
	raw, ok := m[key]
	if !ok {
		return nil, false, nil
	}
	var items []json.RawMessage
	if jsonType(raw) != "JSONArray" || json.Unmarshal(raw, &items) != nil {
		return nil, true, embedErrorf("#/%s: expected type: JSONArray, found: %s", key, jsonType(raw))
	}
	if len(items) < minItems {
		return nil, true, embedErrorf("#/%s: expected minimum item count: %d, found: %d", key, minItems, len(items))
	}
	out := make([]string, len(items))
	for i, it := range items {
		if jsonType(it) != "String" || json.Unmarshal(it, &out[i]) != nil {
			return nil, true, embedErrorf("#/%s/%d: expected type: String, found: %s", key, i, jsonType(it))
		}
	}
	return out, true, nil
}

// embedTypes reads the embedding types at key: a non-empty list from
// values, returned without repeats.
func embedTypes(m map[string]json.RawMessage, key string, values []string) ([]string, error) {
	types, ok, err := embedStrings(m, key, 1)
	if !ok || err != nil {
		return nil, err
	}
	var out []string
	for i, t := range types {
		if err := embedEnum(key+"/"+strconv.Itoa(i), t, values); err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// decodeEmbed reads an InvokeModel body for an embedding model of family f.
func decodeEmbed(f embedFamily, model string, body []byte) (*embedJob, error) {
	switch f {
	case titanV1, titanV2:
		return decodeTitanEmbed(f, body)
	case titanImage:
		return decodeTitanImageEmbed(body)
	case cohereV3, cohereV4:
		return decodeCohereEmbed(f, model, body)
	}
	return nil, embedError("#: the model is no embedding model")
}

// decodeTitanEmbed reads a Titan Text Embeddings body: inputText, and for
// v2 dimensions, normalize and embeddingTypes.
func decodeTitanEmbed(f embedFamily, body []byte) (*embedJob, error) {
	allowed := []string{"inputText"}
	if f == titanV2 {
		allowed = append(allowed, "dimensions", "normalize", "embeddingTypes")
	}
	m, err := embedObject(body, allowed...)
	if err != nil {
		return nil, err
	}
	text, ok, err := embedString(m, "inputText")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, embedError("#: required key [inputText] not found")
	case text == "":
		return nil, embedError("#/inputText: expected minLength: 1, actual: 0")
	case len(text) > titanMaxChars:
		return nil, embedErrorf("#/inputText: expected maxLength: %d, actual: %d", titanMaxChars, len(text))
	}
	job := &embedJob{family: f, inputs: [][]byte{[]byte(text)}, dims: 1536, normalize: true, tokens: estimateTokens(text)}
	if job.tokens > titanMaxTokens {
		return nil, embedErrorf("Too many input tokens. Max input tokens: %d, request input token count: %d", titanMaxTokens, job.tokens)
	}
	if f == titanV1 {
		return job, nil
	}
	job.dims = 1024
	if d, ok, err := embedInt(m, "dimensions"); err != nil {
		return nil, err
	} else if ok {
		if !slices.Contains(titanV2Dimensions, d) {
			return nil, embedErrorf("#/dimensions: %d is not a valid enum value", d)
		}
		job.dims = d
	}
	if raw, ok := m["normalize"]; ok {
		if json.Unmarshal(raw, &job.normalize) != nil || jsonType(raw) != "Boolean" {
			return nil, embedError("#/normalize: expected type: Boolean, found: " + jsonType(raw))
		}
	}
	if job.types, err = embedTypes(m, "embeddingTypes", titanEmbedTypes); err != nil {
		return nil, err
	}
	return job, nil
}

// decodeTitanImageEmbed reads a Titan Multimodal Embeddings body:
// inputText, inputImage (base64) or both, which embed as one vector, and
// embeddingConfig.outputEmbeddingLength.
func decodeTitanImageEmbed(body []byte) (*embedJob, error) {
	m, err := embedObject(body, "inputText", "inputImage", "embeddingConfig")
	if err != nil {
		return nil, err
	}
	text, hasText, err := embedString(m, "inputText")
	if err != nil {
		return nil, err
	}
	image, hasImage, err := embedString(m, "inputImage")
	if err != nil {
		return nil, err
	}
	if !hasText && !hasImage {
		return nil, embedError("#: at least one of [inputText, inputImage] is required")
	}
	job := &embedJob{family: titanImage, dims: 1024, normalize: true, tokens: 1}
	if hasText {
		if job.tokens = estimateTokens(text); job.tokens > titanImageText {
			return nil, embedErrorf("Too many input tokens. Max input tokens: %d, request input token count: %d", titanImageText, job.tokens)
		}
	}
	if hasImage {
		if _, err := base64.StdEncoding.DecodeString(image); err != nil || image == "" {
			return nil, embedError("#/inputImage: expected a base64-encoded image")
		}
	}
	input := text
	if hasImage {
		input += "\x00" + image
	}
	job.inputs = [][]byte{[]byte(input)}
	if raw, ok := m["embeddingConfig"]; ok {
		cfg, err := embedObject(raw, "outputEmbeddingLength")
		if err != nil {
			return nil, embedError("#/embeddingConfig" + strings.TrimPrefix(err.Error(), "#"))
		}
		if n, ok, err := embedInt(cfg, "outputEmbeddingLength"); err != nil {
			return nil, embedError("#/embeddingConfig" + strings.TrimPrefix(err.Error(), "#"))
		} else if ok {
			if !slices.Contains(titanImageLengths, n) {
				return nil, embedErrorf("#/embeddingConfig/outputEmbeddingLength: %d is not a valid enum value", n)
			}
			job.dims = n
		}
	}
	return job, nil
}

// cohereDimensions is the fixed size of a Cohere v3 model's vectors.
func cohereDimensions(model string) int {
	if strings.Contains(model, "light") {
		return 384
	}
	return 1024
}

// decodeCohereEmbed reads a Cohere Embed body: texts (or images, or v4's
// mixed inputs), input_type, truncate, embedding_types and, for v4,
// output_dimension and max_tokens.
func decodeCohereEmbed(f embedFamily, model string, body []byte) (*embedJob, error) {
	allowed := []string{"texts", "images", "input_type", "truncate", "embedding_types"}
	truncates := []string{"NONE", "START", "END"}
	inputTypes := append(slices.Clip(cohereInputTypes), "image")
	maxImages := cohereV3Images
	if f == cohereV4 {
		allowed = append(allowed, "inputs", "output_dimension", "max_tokens")
		truncates = []string{"NONE", "LEFT", "RIGHT"}
		inputTypes, maxImages = cohereInputTypes, cohereMaxTexts
	}
	m, err := embedObject(body, allowed...)
	if err != nil {
		return nil, err
	}
	it, ok, err := embedString(m, "input_type")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, embedError("#: required key [input_type] not found")
	}
	if err := embedEnum("input_type", it, inputTypes); err != nil {
		return nil, err
	}
	job := &embedJob{family: f, dims: cohereDimensions(model), normalize: true}
	if f == cohereV4 {
		job.dims = 1536
	}
	given := 0
	for _, k := range []string{"texts", "images", "inputs"} {
		if _, ok := m[k]; ok {
			given++
		}
	}
	if given != 1 {
		if f == cohereV4 {
			return nil, embedError("#: exactly one of [texts, images, inputs] is required")
		}
		return nil, embedError("#: exactly one of [texts, images] is required")
	}
	if texts, ok, err := embedStrings(m, "texts", 1); err != nil {
		return nil, err
	} else if ok {
		if len(texts) > cohereMaxTexts {
			return nil, embedErrorf("#/texts: expected maximum item count: %d, found: %d", cohereMaxTexts, len(texts))
		}
		for i, s := range texts {
			if f == cohereV3 && len(s) > cohereV3MaxText {
				return nil, embedErrorf("#/texts/%d: expected maxLength: %d, actual: %d", i, cohereV3MaxText, len(s))
			}
			job.inputs, job.tokens = append(job.inputs, []byte(s)), job.tokens+estimateTokens(s)
		}
		job.texts = texts
	}
	if images, ok, err := embedStrings(m, "images", 1); err != nil {
		return nil, err
	} else if ok {
		if len(images) > maxImages {
			return nil, embedErrorf("#/images: expected maximum item count: %d, found: %d", maxImages, len(images))
		}
		for i, s := range images {
			if !strings.HasPrefix(s, "data:image/") || !strings.Contains(s, ";base64,") {
				return nil, embedErrorf("#/images/%d: expected a data URI of a base64 image (data:image/png;base64,...)", i)
			}
			job.inputs, job.tokens = append(job.inputs, []byte(s)), job.tokens+estimateTokens(s)
		}
	}
	if raw, ok := m["inputs"]; ok {
		var items []struct {
			Content []json.RawMessage `json:"content"`
		}
		if jsonType(raw) != "JSONArray" || json.Unmarshal(raw, &items) != nil {
			return nil, embedError("#/inputs: expected type: JSONArray of {content: [...]}, found: " + jsonType(raw))
		}
		if len(items) == 0 || len(items) > cohereMaxTexts {
			return nil, embedErrorf("#/inputs: expected between 1 and %d items, found: %d", cohereMaxTexts, len(items))
		}
		var raws []json.RawMessage
		json.Unmarshal(raw, &raws)
		for i, in := range items {
			if len(in.Content) == 0 {
				return nil, embedErrorf("#/inputs/%d/content: expected minimum item count: 1, found: 0", i)
			}
			// A mixed input embeds as its JSON text, as a token array
			// does on the OpenAI face.
			job.inputs, job.tokens = append(job.inputs, raws[i]), job.tokens+estimateTokens(string(raws[i]))
		}
	}
	if t, ok, err := embedString(m, "truncate"); err != nil {
		return nil, err
	} else if ok {
		if err := embedEnum("truncate", t, truncates); err != nil {
			return nil, err
		}
	}
	if job.types, err = embedTypes(m, "embedding_types", cohereEmbedTypes); err != nil {
		return nil, err
	}
	if d, ok, err := embedInt(m, "output_dimension"); err != nil {
		return nil, err
	} else if ok {
		if !slices.Contains(cohereV4Dimensions, d) {
			return nil, embedErrorf("#/output_dimension: %d is not a valid enum value", d)
		}
		job.dims = d
	}
	if n, ok, err := embedInt(m, "max_tokens"); err != nil {
		return nil, err
	} else if ok && n < 1 {
		return nil, embedErrorf("#/max_tokens: %d is not greater or equal to 1", n)
	}
	return job, nil
}

// vector returns input i's float vector.
func (j *embedJob) vector(i int) []float32 {
	if j.normalize {
		return Embedding(j.inputs[i], j.dims)
	}
	return rawEmbedding(j.inputs[i], j.dims)
}

// titanBinary is Titan's binary embedding: 1 for a positive component,
// else 0, one per dimension.
func titanBinary(v []float32) []int {
	out := make([]int, len(v))
	for i, f := range v {
		if f > 0 {
			out[i] = 1
		}
	}
	return out
}

// cohereQuantize returns v as Cohere's embedding type typ: int8 and uint8
// scale each component by 127 (uint8 offset by 128); ubinary packs the
// components' signs eight to a byte, most significant bit first, and
// binary is ubinary less 128.
func cohereQuantize(v []float32, typ string) any {
	switch typ {
	case "int8", "uint8":
		out := make([]int, len(v))
		for i, f := range v {
			q := int(math.Round(float64(f) * 127))
			q = min(max(q, -128), 127)
			if typ == "uint8" {
				q += 128
			}
			out[i] = q
		}
		return out
	case "binary", "ubinary":
		out := make([]int, (len(v)+7)/8)
		for i, f := range v {
			if f > 0 {
				out[i/8] |= 1 << (7 - i%8)
			}
		}
		if typ == "binary" {
			for i := range out {
				out[i] -= 128
			}
		}
		return out
	}
	return v
}

// titanAnswer is the InvokeModel answer of a Titan embedding model.
func (j *embedJob) titanAnswer() any {
	v := j.vector(0)
	if j.family == titanV1 || j.family == titanImage {
		return struct {
			Embedding           []float32 `json:"embedding"`
			InputTextTokenCount int       `json:"inputTextTokenCount"`
		}{v, j.tokens}
	}
	byType := map[string]any{}
	for _, t := range j.types {
		if t == "binary" {
			byType[t] = titanBinary(v)
		} else {
			byType[t] = v
		}
	}
	if len(byType) == 0 {
		byType["float"] = v
	}
	return struct {
		Embedding           []float32      `json:"embedding"`
		InputTextTokenCount int            `json:"inputTextTokenCount"`
		EmbeddingsByType    map[string]any `json:"embeddingsByType"`
	}{v, j.tokens, byType}
}

// cohereAnswer is the InvokeModel answer of a Cohere embedding model: a
// list of float vectors, or vectors by type when the body names
// embedding_types (always, on v4).
func (j *embedJob) cohereAnswer(body []byte) any {
	vecs := make([][]float32, len(j.inputs))
	for i := range j.inputs {
		vecs[i] = j.vector(i)
	}
	out := struct {
		ID           string   `json:"id"`
		Embeddings   any      `json:"embeddings"`
		Texts        []string `json:"texts,omitempty"`
		ResponseType string   `json:"response_type"`
	}{ID: embedID(body), Embeddings: vecs, Texts: j.texts, ResponseType: "embeddings_floats"}
	types := j.types
	if types == nil && j.family == cohereV4 {
		types = []string{"float"}
	}
	if types != nil {
		byType := map[string]any{}
		for _, t := range types {
			if t == "float" {
				byType[t] = vecs
				continue
			}
			q := make([]any, len(vecs))
			for i, v := range vecs {
				q[i] = cohereQuantize(v, t)
			}
			byType[t] = q
		}
		out.Embeddings, out.ResponseType = byType, "embeddings_by_type"
	}
	return out
}

// embedID is a deterministic UUID-shaped id of a body.
func embedID(body []byte) string {
	h := fnv.New128a()
	h.Write(body)
	s := fmt.Sprintf("%x", h.Sum(nil))
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// serveBedrockEmbed answers an operation on an embedding model of family
// f: InvokeModel with the family's body; anything else is refused as
// Bedrock refuses it.
func (s *Server) serveBedrockEmbed(w http.ResponseWriter, f embedFamily, model, op string, body []byte) {
	st := s.cur.Load()
	start := s.clock.Now()
	if s.models != nil && !s.models[model] {
		s.stats.invalid.Add(1)
		bedrockError(w, http.StatusNotFound, "ResourceNotFoundException", "The model "+clipKey(model)+" does not exist.", 0)
		return
	}
	var job *embedJob
	var err error
	switch op {
	case "converse", "converse-stream":
		err = errEmbedConverse
	case "invoke-with-response-stream":
		err = errEmbedStream
	default:
		job, err = decodeEmbed(f, model, body)
		if err != nil && strings.HasPrefix(err.Error(), "#") {
			// A schema violation, in the validator's words.
			err = jsonError("Malformed input request: " + err.Error() + ", please reformat your input and try again.")
		}
	}
	if err != nil {
		s.stats.invalid.Add(1)
		bedrockError(w, http.StatusBadRequest, "ValidationException", err.Error(), 0)
		return
	}
	if !s.admitBedrock(w, st) {
		return
	}
	defer s.stats.inFlight.Add(-1)
	if st.limits.any() {
		// The RPM and TPM windows chat is charged to, charged the input
		// tokens, as for /v1/embeddings.
		if _, e := s.win.admit(start, st.limits, job.tokens, model, http.Header{}); e != nil {
			s.stats.throttled.Add(1)
			bedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again.", e.retryAfter)
			return
		}
	}
	var answer any
	if f == titanV1 || f == titanV2 || f == titanImage {
		answer = job.titanAnswer()
	} else {
		answer = job.cohereAnswer(body)
	}
	b, _ := json.Marshal(answer)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(job.tokens))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", "0")
	h.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(s.clock.Now().Sub(start).Milliseconds(), 10))
	s.stats.promptTokens.Add(int64(job.tokens))
	if _, err := w.Write(b); err != nil {
		s.stats.canceled.Add(1)
		return
	}
	s.stats.served.Add(1)
}

var (
	errEmbedConverse = jsonError("This action doesn't support the model that you provided. Try again with a supported text or chat model.")
	errEmbedStream   = jsonError("The model is unsupported for streaming.")
)
