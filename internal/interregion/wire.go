package interregion

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// Paths served on the link listener.
const (
	PathInvoke = "/link/v1/invoke"
	PathState  = "/link/v1/state"
)

// HeaderEnvelopeVersion is set on the answers of the state endpoint: the
// newest envelope version this node accepts. A node from before envelope
// version 2 does not set it.
const HeaderEnvelopeVersion = "Meridian-Link-Envelope-Version"

// reasoningVersion is the first link version whose nodes restore Claude's
// reasoning that a Chat Completions body carries (an assistant message's
// reasoning_content beginning "meridian.r1.", internal/translate/
// responses_reasoning.go) for Converse and Anthropic and strip it for
// OpenAI. An older node would leave it out for Claude and pass it to an
// OpenAI deployment, so such a body is not sent to it (linkReasoning). It
// adds no envelope field: envelopes stay at envelope.Version, and the
// version is only what a node advertises in HeaderEnvelopeVersion, which
// an older node reads as the newest envelope version it knows.
const reasoningVersion = 6

// systemRoleVersion is the first link version whose nodes accept a
// Converse body's messages of role "system" (toolAddition, toolRemoval);
// an older node refuses the role with a 400 that does not fail over, so
// such a body is not sent to it (linkConverseSystemRole). Like
// reasoningVersion, it adds no envelope field.
const systemRoleVersion = 7

// linkVersion is what this node advertises in HeaderEnvelopeVersion: the
// newest envelope version it accepts, or the newest capability version
// above it (reasoningVersion, systemRoleVersion).
const linkVersion = max(envelope.Version, reasoningVersion, systemRoleVersion)

// envelopeVersionOf is the newest envelope version a peer that advertises
// link version v accepts: v itself, except for a capability-only version
// (reasoningVersion, 6, and systemRoleVersion, 7), whose nodes accept
// envelopes up to 5. Envelopes are sealed at min(envelopeVersionOf(peer),
// envelope.Version), so that a later envelope version (8 and up) is never
// sealed for a node that advertises 6 or 7.
func envelopeVersionOf(v int) int {
	if v == reasoningVersion || v == systemRoleVersion {
		return reasoningVersion - 1
	}
	return v
}

// advertisedVersion reads a peer's HeaderEnvelopeVersion: its absence means
// a version 1 node; a value that is not a version this node knows is taken
// as 1, the version every node accepts. Envelopes to the peer are sealed
// at no newer than envelope.Version and what the peer accepts
// (envelopeVersionOf, sendVia).
func advertisedVersion(h http.Header) int {
	v, err := strconv.Atoi(h.Get(HeaderEnvelopeVersion))
	if err != nil || v < envelope.MinVersion {
		return envelope.MinVersion
	}
	return min(v, linkVersion)
}

// envelopeOf returns the envelope that describes job on the link: every
// field the destination authorizes, audits or routes on. It travels signed
// (see [EnvelopeSigner]) and is the only place the destination reads them
// from; there are no other job headers.
func envelopeOf(job *dispatch.Job, body []byte, now time.Time) envelope.Envelope {
	return envelope.Envelope{
		RequestID: job.RequestID, SourceRegion: job.SourceRegion, DestinationRegion: job.DestinationRegion,
		PrincipalID: job.Principal.ID, ProfileARN: job.ProfileARN, IssuedAt: now, BodySHA256: envelope.HashBody(body),
		Operation: job.Operation, AuthMethod: methodName(job.Principal.Method), KeyID: job.Principal.KeyID,
		ClientIP: job.SourceIP, ClientTLS: job.SecureTransport, Model: job.Model, TraceParent: job.TraceParent,
		ServiceTier: serviceTierOf(job.Request),
	}
}

// serviceTierOf is the request's tier as the envelope carries it: empty for
// the default tier.
func serviceTierOf(req *inference.Request) string {
	if req == nil || req.ServiceTier == "" || req.ServiceTier == inference.TierDefault {
		return ""
	}
	return string(req.ServiceTier)
}

// jobFromEnvelope returns the job a destination serves for an envelope it
// accepted (verified, or read from an insecure development link), without
// its request (decoded afterwards from the body the envelope hashes), and
// the service tier that request is to be admitted in ("" for the one its
// body names).
func jobFromEnvelope(e *envelope.Envelope) (*dispatch.Job, inference.ServiceTier, error) {
	id, err := ProfileIDFromARN(e.ProfileARN)
	if err != nil {
		return nil, "", &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_malformed",
			Message: "link request refused: malformed profile ARN", Err: err}
	}
	m, ok := methodByName[e.AuthMethod]
	if !ok {
		return nil, "", &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_malformed",
			Message: "link request refused: unknown authentication method", Err: fmt.Errorf("envelope auth_method %.64q", e.AuthMethod)}
	}
	tier, err := envelopeTier(e)
	if err != nil {
		return nil, "", err
	}
	return &dispatch.Job{
		RequestID: e.RequestID, Operation: e.Operation,
		SourceRegion: e.SourceRegion, DestinationRegion: e.DestinationRegion,
		ProfileID: id, ProfileARN: e.ProfileARN, Model: e.Model,
		Principal: auth.Principal{ID: e.PrincipalID, Method: m, KeyID: e.KeyID},
		SourceIP:  e.ClientIP, SecureTransport: e.ClientTLS, TraceParent: e.TraceParent,
	}, tier, nil
}

// envelopeTier returns the service tier the envelope names ("" for none).
// The signed tier is the one the source admitted the request in; it
// overrides whatever the body says (the two agree unless a header set it).
func envelopeTier(e *envelope.Envelope) (inference.ServiceTier, error) {
	if e.ServiceTier == "" {
		return "", nil
	}
	t, ok := inference.ParseServiceTier(e.ServiceTier)
	if !ok || t == inference.TierDefault {
		return "", &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_malformed",
			Message: "link request refused: unknown service tier", Err: fmt.Errorf("envelope service_tier %.64q", e.ServiceTier)}
	}
	return t, nil
}

// methodName is m as the envelope writes it: its audit name, or "" for
// none.
func methodName(m auth.Method) string {
	if m == 0 {
		return ""
	}
	return m.String()
}

// methodByName maps the envelope's auth_method back; "" is no method (an
// anonymous principal, or a version 1 envelope).
var methodByName = func() map[string]auth.Method {
	m := map[string]auth.Method{"": 0}
	for k := auth.MethodAPIKey; k.String() != "unknown"; k++ {
		m[k.String()] = k
	}
	return m
}()

// The operations whose bodies the link carries, as the envelope names them
// (the gateway's Op* values).
const (
	opChatCompletions = "ChatCompletions"
	opConverse        = "Converse"
	opConverseStream  = "ConverseStream"
	opInvoke          = "InvokeModel"
	opInvokeStream    = "InvokeModelWithResponseStream"
	// opMessages is Anthropic's /v1/messages: its body travels in the
	// Anthropic dialect of InvokeModel, streaming said by the Content-Type.
	opMessages   = "Messages"
	opEmbeddings = "Embeddings"
	// opResponses is OpenAI's /v1/responses: its body travels as the
	// Chat Completions body the source translated it to.
	opResponses = "Responses"
)

// dialectOf returns the dialect of a client body for operation op on model
// (InvokeModel bodies are told apart by a look at body).
func dialectOf(op, model string, body []byte) inference.Dialect {
	switch op {
	case opChatCompletions:
		return inference.DialectOpenAIChat
	case opConverse, opConverseStream:
		return inference.DialectConverse
	case opMessages:
		return inference.DialectAnthropic
	case opEmbeddings:
		return inference.DialectOpenAIEmbeddings
	case opInvoke, opInvokeStream:
		if body == nil {
			return inference.DialectAnthropic
		}
		return inference.InvokeDialect(model, body)
	}
	return inference.DialectOpenAIChat
}

// metadataBesideBody reports whether operation op's request metadata is
// not in the body the link carries: InvokeModel's (its
// X-Amzn-Bedrock-Request-Metadata header) and a Responses request's (its
// metadata, which the Chat Completions body it was translated to leaves
// out), so that the link carries it in envelope.HeaderRequestMetadata;
// every other operation's (Converse requestMetadata, OpenAI chat
// metadata) is in the client's body, which the link carries as received.
func metadataBesideBody(op string) bool {
	return op == opInvoke || op == opInvokeStream || op == opResponses
}

// metadataVersion is the first envelope version that carries request
// metadata (request_metadata_sha256).
const metadataVersion = 5

// maxLinkMetadata bounds a forwarded request's metadata header: 16 pairs
// of 256-character keys and values (Bedrock's limits) or of 64-character
// keys and 512-character values (OpenAI's), every character escaped, fit.
const maxLinkMetadata = 64 << 10

// linkMetadata returns the value of envelope.HeaderRequestMetadata for a
// job forwarded to a peer that accepts envelopes up to peerVersion (0:
// not yet known, taken as the newest): the caller's request metadata as a
// JSON object (keys sorted, as json.Marshal writes a map) when it came
// beside the body, "" when there is none or the body holds it. A peer
// older than version 5 cannot carry it: the job is not sent there, with a
// retryable error, so that another destination serves it (in a rolling
// upgrade, an upgraded one) rather than the metadata being lost.
func linkMetadata(job *dispatch.Job, peerVersion int, region string) (string, error) {
	if job.Request == nil || len(job.Request.Metadata) == 0 || !metadataBesideBody(job.Operation) {
		return "", nil
	}
	if peerVersion != 0 && peerVersion < metadataVersion {
		return "", &inference.Error{Kind: inference.KindUnavailable, Unfit: true,
			Message: "region " + region + " runs an older Meridian that cannot carry the request metadata"}
	}
	b, err := json.Marshal(job.Request.Metadata)
	if err != nil {
		return "", &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	return string(b), nil
}

// linkReasoning refuses to forward job to a peer that advertises a link
// version older than reasoningVersion (0: not yet known, taken as the
// newest) when its body may carry Claude's reasoning: a Chat Completions
// body that enables reasoning (carried reasoning comes only with it) with
// the marker in it. Like linkMetadata's refusal, it is retryable and Unfit,
// so that another destination (in a rolling upgrade, an upgraded one)
// serves it rather than the reasoning being left out or passed on.
func linkReasoning(job *dispatch.Job, peerVersion int, region string) error {
	if peerVersion == 0 || peerVersion >= reasoningVersion {
		return nil
	}
	r := job.Request
	if r == nil || r.Dialect != inference.DialectOpenAIChat || !r.Features.Has(inference.FeatureReasoning) || !translate.CarriesReasoning(r.Body) {
		return nil
	}
	return &inference.Error{Kind: inference.KindUnavailable, Unfit: true,
		Message: "region " + region + " runs an older Meridian that cannot carry Claude's reasoning in this request"}
}

// linkConverseSystemRole refuses to forward job to a peer that
// advertises a link version older than systemRoleVersion (0: not yet
// known, taken as the newest) when its Converse body holds a message of
// role "system": the peer would refuse it as an unknown role, a 400 that
// does not fail over. Like linkReasoning's refusal, it is retryable and
// Unfit, so that another destination (in a rolling upgrade, an upgraded
// one) serves it.
func linkConverseSystemRole(job *dispatch.Job, peerVersion int, region string) error {
	if peerVersion == 0 || peerVersion >= systemRoleVersion {
		return nil
	}
	r := job.Request
	if r == nil || r.Dialect != inference.DialectConverse || !inference.ConverseHasSystemRole(r.Body) {
		return nil
	}
	return &inference.Error{Kind: inference.KindUnavailable, Unfit: true,
		Message: "region " + region + " runs an older Meridian that does not accept Converse messages of role system"}
}

// forwardedMetadata returns the request metadata a forwarded request
// carries beside its body: nil when its envelope covers none (a header
// the envelope does not cover is ignored), else the header's JSON object,
// once its bytes match the envelope's hash, for an operation whose
// metadata comes beside the body, of strings within its API's limits.
// Anything else is refused: the envelope is authentic, so only a broken
// or dishonest source sends it.
func forwardedMetadata(e *envelope.Envelope, h http.Header) (map[string]string, error) {
	if e.RequestMetadataSHA256 == "" {
		return nil, nil
	}
	v := h.Get(envelope.HeaderRequestMetadata)
	if err := e.CheckRequestMetadata(v); err != nil {
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_request_metadata_hash",
			Message: "link request refused: request_metadata_hash", Err: err}
	}
	md, err := parseLinkMetadata(e.Operation, v)
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_malformed",
			Message: "link request refused: malformed request metadata", Err: err}
	}
	return md, nil
}

// parseLinkMetadata reads v, the request metadata header of a forwarded
// request of operation op.
func parseLinkMetadata(op, v string) (map[string]string, error) {
	if !metadataBesideBody(op) {
		return nil, fmt.Errorf("operation %.64q carries its request metadata in its body", op)
	}
	if len(v) > maxLinkMetadata {
		return nil, fmt.Errorf("request metadata is %d bytes, limit %d", len(v), maxLinkMetadata)
	}
	var md map[string]string
	if err := json.Unmarshal([]byte(v), &md); err != nil || len(md) == 0 {
		return nil, fmt.Errorf("request metadata is not a non-empty JSON object of strings")
	}
	validate := inference.ValidateMetadata // Bedrock's limits
	if op == opResponses {
		validate = inference.ValidateOpenAIMetadata
	}
	if err := validate(md); err != nil {
		return nil, fmt.Errorf("request metadata %w", err)
	}
	return md, nil
}

// HeaderLinkBody is set on the answers of the state endpoint by a node
// that takes client bodies on the link (see [ContentTypeClientBody]).
const HeaderLinkBody = "Meridian-Link-Body"

const linkBodyClient = "client"

// legacyBody encodes req as a node from before client bodies reads it:
// the canonical, text-only request. A request it cannot carry fails.
func legacyBody(req *inference.Request) ([]byte, error) {
	c, err := req.Canonical(inference.DialectUnknown)
	if err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// ContentTypeClientBody marks a forwarded body that is the client's own,
// as the source received it; its dialect parameter names its format. A
// node from before it sends the canonical request as application/json.
const ContentTypeClientBody = "application/vnd.meridian.client-body+json"

func bodyContentType(d inference.Dialect) string {
	if int(d) < len(bodyContentTypes) {
		return bodyContentTypes[d]
	}
	return clientBodyPrefix + d.String()
}

// bodyContentTypes are bodyContentType's values, made once rather than
// concatenated per forwarded request.
var bodyContentTypes = func() (ts [8]string) {
	for d := range ts {
		ts[d] = clientBodyPrefix + inference.Dialect(d).String()
	}
	return ts
}()

// requestOf reads a forwarded body: the client's, peeked at as the
// source's front end did (in the dialect of the operation, or of the
// Content-Type when the envelope names no operation), or the canonical
// request a node from before client bodies sends.
// The request's model is what the caller named: the profile id for the
// Bedrock operations (their model travels in the URL, not the body).
func requestOf(contentType, op, profileID, model string, body []byte) (*inference.Request, error) {
	mt, dialect, streamParam := clientBodyParams(contentType)
	if mt != ContentTypeClientBody {
		var req inference.Request
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &inference.Error{Kind: inference.KindInvalidRequest, Message: "malformed forwarded request", Err: err}
		}
		return &req, nil
	}
	d := dialectOf(op, model, body)
	if op == "" {
		if pd, ok := inference.ParseDialect(dialect); ok {
			d = pd
		}
	}
	stream := op == opConverseStream || op == opInvokeStream || (op == opMessages && streamParam == "true")
	req, err := inference.Peek(d, profileID, body, stream)
	if err != nil {
		e := inference.AsError(err)
		return nil, &inference.Error{Kind: inference.KindInvalidRequest, Message: "malformed forwarded request: " + e.Message, Param: e.Param, Err: err}
	}
	return req, nil
}

// clientBodyPrefix is what bodyContentType writes before the dialect.
const clientBodyPrefix = ContentTypeClientBody + "; dialect="

// clientBodyParams returns contentType's media type and the parameters
// requestOf reads (dialect, stream), as mime.ParseMediaType gives them.
// The form bodyContentType writes (a dialect that is a plain token) is read
// without it: its parameter map and lower-casing cost two allocations per
// forwarded request. Any other form goes through it.
func clientBodyParams(contentType string) (mt, dialect, stream string) {
	if rest, ok := strings.CutPrefix(contentType, clientBodyPrefix); ok && plainToken(rest) {
		return ContentTypeClientBody, rest, ""
	}
	mt, params, _ := mime.ParseMediaType(contentType)
	return mt, params["dialect"], params["stream"]
}

// plainToken reports whether s is a non-empty run of ASCII letters,
// digits, '-', '.' and '_': a parameter value mime.ParseMediaType returns
// as it is written.
func plainToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

// wireError is an error as it crosses the link.
type wireError struct {
	Kind           string `json:"kind"`
	Message        string `json:"message"`
	Code           string `json:"code,omitempty"`
	RetryAfterMs   int64  `json:"retryAfterMs,omitempty"`
	UpstreamStatus int    `json:"upstreamStatus,omitempty"`
	// Param names the request field a refusal is about, so that the
	// client's error says it as a local refusal would. Older peers leave
	// it out and ignore it.
	Param string `json:"param,omitempty"`
	// Unfit carries inference.Error.Unfit: with kind invalid_request, the
	// destination's deployment cannot express a field of the request, and
	// the source tries its next destination. Older peers leave it out (their
	// refusals stay plain 400s) and ignore it.
	Unfit bool `json:"unfit,omitempty"`
}

// maxWireParam bounds the field name a peer may report.
const maxWireParam = 256

// wireParam returns the field name a peer reported, or "" for one longer
// than maxWireParam: a clipped name would name no field.
func wireParam(p string) string {
	if len(p) > maxWireParam {
		return ""
	}
	return p
}

var kindByName = func() map[string]inference.ErrorKind {
	m := map[string]inference.ErrorKind{}
	for k := inference.KindInternal; k <= inference.KindUpstream; k++ {
		m[k.String()] = k
	}
	return m
}()

func toWire(e *inference.Error) wireError {
	return wireError{Kind: e.Kind.String(), Message: e.Message, Code: e.Code, RetryAfterMs: e.RetryAfter.Milliseconds(), UpstreamStatus: e.UpstreamStatus,
		Param: e.Param, Unfit: e.Refused()}
}

func (w wireError) err(region string) *inference.Error {
	k, ok := kindByName[w.Kind]
	if !ok {
		k = inference.KindUpstream
	}
	msg := w.Message
	if k == inference.KindPermissionDenied {
		// A destination's own re-check refused: say which one.
		msg = "refused by destination region " + region + ": " + msg
	}
	return &inference.Error{Kind: k, Message: msg, Code: w.Code, RetryAfter: time.Duration(w.RetryAfterMs) * time.Millisecond,
		UpstreamStatus: w.UpstreamStatus, Param: wireParam(w.Param), Unfit: w.Unfit && k == inference.KindInvalidRequest, Err: &PeerError{Region: region, Msg: w.Message}}
}

// PeerError is the internal cause of an error a peer reported.
type PeerError struct {
	Region string
	Msg    string
}

func (e *PeerError) Error() string { return "peer " + e.Region + ": " + e.Msg }

// streamLine is one line of a forwarded stream.
type streamLine struct {
	Event *inference.Event `json:"event,omitempty"`
	Error *wireError       `json:"error,omitempty"`
	End   bool             `json:"end,omitempty"`
	// Receipt is the inference region's residency receipt, on the end
	// line of a stream that asked for one.
	Receipt string `json:"receipt,omitempty"`
}

func writeWireError(w http.ResponseWriter, e *inference.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Kind.Status())
	json.NewEncoder(w).Encode(toWire(e))
}
