package audit

import (
	"bytes"
	"fmt"
	"time"
)

// EventVersion is the version of the event schema written by this package.
const EventVersion = "1.0"

// Event is the record of one request that reached a node, including
// rejections (401/403/404/429) and failures. The source node writes one with
// [SideSource]; a destination node that served or refused a forwarded request
// writes its own with the same EventID and [SideDestination], so the two can
// be reconciled.
//
// Fields are encoded as JSON in the order declared here; that order is part of
// the hash-chain format and must not change within an EventVersion. Fields
// without omitempty are always present, so "inferenceRegion":"" says that
// nothing ran.
type Event struct {
	// EventVersion is the schema version; [Writer.Append] sets it when empty.
	EventVersion string `json:"eventVersion"`
	// EventID is the request id (the x-meridian-request-id header).
	EventID string `json:"eventId"`
	// EventTime is when the request arrived.
	EventTime Time `json:"eventTime"`
	// EventName is the API operation: ChatCompletions, Converse,
	// ConverseStream, InvokeModel, InvokeModelWithResponseStream,
	// CreateInferenceProfile, ...
	EventName string `json:"eventName"`
	// Side says which node wrote the event. If empty, [SideSource] is used.
	Side Side `json:"side"`
	// RecordingRegion is the region whose node wrote the event;
	// [Writer.Append] sets it to the writer's region.
	RecordingRegion string       `json:"recordingRegion"`
	UserIdentity    UserIdentity `json:"userIdentity"`
	SourceIPAddress string       `json:"sourceIPAddress"`
	UserAgent       string       `json:"userAgent"`
	// SourceRegion is where the request entered.
	SourceRegion string `json:"sourceRegion"`
	// InferenceRegion is the destination region where inference ran; empty
	// when nothing ran (rejected, or every attempt failed).
	InferenceRegion string `json:"inferenceRegion"`
	// InferenceProfileARN is the resolved profile's ARN; empty when the
	// request named no resolvable profile.
	InferenceProfileARN string `json:"inferenceProfileArn"`
	// ModelID is the resolved logical model id; empty when nothing resolved.
	ModelID string `json:"modelId"`
	// RequestParameters is what the caller asked for, as sent (bounded in
	// length); nil when the request named nothing.
	RequestParameters *RequestParameters `json:"requestParameters,omitempty"`
	// RequestMetadata is the caller's request metadata (Converse
	// requestMetadata and InvokeModel's header: at most 16 pairs of at most
	// 256 characters each; OpenAI metadata: keys of at most 64, values of
	// at most 512), validated by the front end. Nil when none was sent;
	// events without it encode as before.
	RequestMetadata map[string]string `json:"requestMetadata,omitempty"`
	Decision        Decision          `json:"decision"`
	// RouteReason is the x-meridian-route value, e.g. "headroom" or
	// "failover:throttled:eu-central-1".
	RouteReason string `json:"routeReason"`
	// ServiceTier is the tier the request was admitted in ("priority",
	// "default", "flex"); empty on events written before tiers existed.
	ServiceTier string `json:"serviceTier,omitempty"`
	// Attempts lists each destination region tried, in order. Nil is written
	// as [].
	Attempts   []Attempt `json:"attempts"`
	StatusCode int       `json:"statusCode"`
	// ErrorCode is the error returned to the client (the error kind, e.g.
	// "throttled"), empty on success.
	ErrorCode string `json:"errorCode"`
	Usage     Usage  `json:"usage"`
	LatencyMs int64  `json:"latencyMs"`
	// TTFTMs is the time to first token; 0 when no token was sent.
	TTFTMs int64 `json:"ttftMs"`
	// OverheadMs is the time Meridian itself spent on a served request,
	// excluding the backend's, in milliseconds (docs/audit.md); nil when
	// nothing was served. Events without it encode as before.
	OverheadMs *Overhead `json:"overheadMs,omitempty"`
	// TraceID is the request's OpenTelemetry trace id (32 lower-case hex
	// digits), present only when the request was traced and its spans
	// exported: the id of its traceresponse header, its log lines'
	// trace_id and its spans (docs/operations.md, "Traces"). Events
	// without it encode as before.
	TraceID string `json:"traceId,omitempty"`
	// Content holds the prompt and completion. It is written only when
	// [Config.RecordContent] is set; otherwise [Writer.Append] drops it.
	Content *Content `json:"content,omitempty"`
	// Gap is set only on a gap marker, the writer's own event (eventName
	// [GapEventName]) recording that the trail could not be written for a
	// while and what was lost. [Writer.Append] drops it from callers' events.
	Gap *Gap `json:"gap,omitempty"`
	// PrevHash and Hash chain the event to the log; [Writer.Append] ignores
	// the caller's values and sets them when the event is written.
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}

// UserIdentity is who made the request. It never holds a secret.
type UserIdentity struct {
	PrincipalID string `json:"principalId"`
	// Type is the authentication method as auth.Method names it: "apiKey",
	// "sigv4", "mtls", or "" when the request was rejected before
	// authentication. A destination-side event of a forwarded request
	// carries the source caller's method and key id.
	Type string `json:"type"`
	// APIKeyID identifies the API key used (its id, never the key).
	APIKeyID string `json:"apiKeyId,omitempty"`
	// AccessKeyID is the SigV4 access key id.
	AccessKeyID string `json:"accessKeyId,omitempty"`
}

// Decision is the authorization verdict.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Reason says why the request was denied (empty when allowed), e.g.
	// "explicitDeny by guardrail eu-only/DenyOutsideEU: bedrock:InvokeModel
	// on arn:…" or "residency: us.m is a us profile and …".
	Reason string `json:"reason,omitempty"`
	// DecidingStatement is the policy statement that decided a denial (for
	// a guardrail, the guardrail's name); nil when no statement decided
	// (allowed, an implicit deny, or a residency refusal).
	DecidingStatement *Statement `json:"decidingStatement,omitempty"`
}

// Statement names a policy statement, as `meridian policy simulate` does.
type Statement struct {
	// Policy is the policy's name (the guardrail's name for a guardrail).
	Policy string `json:"policy"`
	// Sid is the statement's Sid, empty when it has none.
	Sid string `json:"sid,omitempty"`
	// Index is the statement's position in the policy's Statement array.
	Index int `json:"index"`
	// Guardrail is true for a guardrail statement.
	Guardrail bool `json:"guardrail,omitempty"`
}

// RequestParameters is what the caller sent, before resolution.
type RequestParameters struct {
	// ModelID is the model id, profile id or ARN as the caller gave it,
	// cut to [MaxRequestedModelID] bytes.
	ModelID string `json:"modelId"`
}

// MaxRequestedModelID bounds [RequestParameters.ModelID]: a longer value is
// cut (at a UTF-8 boundary) so that a caller cannot grow the trail at will.
// Bedrock's own limit on a modelId is 2048; the ids Meridian serves are far
// shorter.
const MaxRequestedModelID = 256

// Attempt is one destination region tried for a request.
type Attempt struct {
	Region string `json:"region"`
	// Outcome is "ok" or the error kind (inference.ErrorKind's name, e.g.
	// "throttled", "unavailable", "timeout", "upstream_error").
	Outcome    string `json:"outcome"`
	DurationMs int64  `json:"durationMs"`
	// Status is the HTTP status the destination answered, 0 when none.
	Status int `json:"status,omitempty"`
}

// Overhead is the time Meridian itself spent on a request, in milliseconds
// rounded to the microsecond, split by where it was spent
// (docs/performance.md, "Overhead per request"). A source event has Source,
// and for a forwarded request Link and Destination as well; a destination
// event has only its own part, Destination. Total and Upstream are absent
// when a forwarded request's destination reported no timing (an older
// node).
type Overhead struct {
	Total       *float64 `json:"total,omitempty"`
	Source      *float64 `json:"source,omitempty"`
	Link        *float64 `json:"link,omitempty"`
	Destination *float64 `json:"destination,omitempty"`
	Upstream    *float64 `json:"upstream,omitempty"`
}

// Usage is the token count of a request.
type Usage struct {
	InputTokens  int64 `json:"inputTokens"`
	OutputTokens int64 `json:"outputTokens"`
}

// Content is the prompt and completion, recorded only with
// [Config.RecordContent].
type Content struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
}

// Gap is what a gap marker states about an outage of the trail.
type Gap struct {
	// Since is when the first write failed (or, for a second marker of
	// one outage, the previous marker's Until); Until is when the probe
	// that wrote the marker ran. A marker with the Since and AfterSeq of an
	// earlier one restates it: the earlier marker's write failed.
	Since Time `json:"since"`
	Until Time `json:"until"`
	// AfterSeq is the sequence of the last event confirmed in the log
	// when the outage began: what was lost belongs between it and the
	// marker. Lines the failing write left in the log unconfirmed come
	// after it (a machine crash may take them back, and the restarted
	// writer's marker then follows AfterSeq directly).
	AfterSeq uint64 `json:"afterSeq"`
	// LostEvents counts requests that have no event: they were refused
	// (503) or failed while the trail could not be written. LostEventIDs
	// lists the first 100 of their ids.
	LostEvents   int64    `json:"lostEvents"`
	LostEventIDs []string `json:"lostEventIds"`
	// DeferredEvents counts events of streams that were running when the
	// trail failed; they follow the marker, in the same write. A marker
	// that restates this one counts again those still waiting, and as
	// unconfirmed those whose lines stayed in the log after this one.
	DeferredEvents int64 `json:"deferredEvents"`
	// UnconfirmedEvents counts events whose lines are in the log although
	// the write that put them there failed and could not be taken back:
	// requests' events (the client may have been refused), and streams'
	// events written after a marker whose write failed.
	UnconfirmedEvents int64 `json:"unconfirmedEvents"`
	// TornFiles names log files a failed write left with a partial last
	// line that could not be truncated.
	TornFiles []string `json:"tornFiles"`
	// Cause is the first error of the outage.
	Cause string `json:"cause"`
}

// Side says which node wrote an event.
type Side string

const (
	// SideSource: written by the node where the request entered.
	SideSource Side = "source"
	// SideDestination: written by a node that served or refused a request
	// forwarded to it.
	SideDestination Side = "destination"
)

func (s Side) String() string { return string(s) }

// timeLayout is RFC 3339 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// Time is an instant encoded in JSON as RFC 3339 in UTC with millisecond
// precision, e.g. "2026-11-25T09:38:23.123Z". The zero Time encodes as
// "0001-01-01T00:00:00.000Z".
type Time struct{ time.Time }

// MarshalJSON implements [json.Marshaler].
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements [json.Unmarshaler]; it accepts any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if !bytes.HasPrefix(b, []byte{'"'}) || !bytes.HasSuffix(b, []byte{'"'}) || len(b) < 2 {
		return fmt.Errorf("time %s is not a string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}
