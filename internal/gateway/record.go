package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Record is everything known about a finished request: the source of
// metrics, the audit event and the live request feed.
type Record struct {
	RequestID string
	Operation string
	// Side is "source" for the node the client called, "destination" for a
	// node that served a forwarded request.
	Side            string
	PrincipalID     string
	AuthMethod      string
	KeyID           string
	SourceIP        string
	UserAgent       string
	SourceRegion    string
	InferenceRegion string
	// ProfileID and ProfileARN name the resolved profile; Model is the
	// resolved model id. All three are empty when nothing resolved.
	ProfileID  string
	ProfileARN string
	Model      string
	// RequestedModel is the model, profile id or ARN as the caller sent
	// it, cut to maxRequestedModel bytes.
	RequestedModel string
	// RequestMetadata is the caller's request metadata (Converse
	// requestMetadata, OpenAI metadata), validated by the front end.
	RequestMetadata map[string]string
	// Allowed is false when a policy or residency refused the request;
	// DenyReason says why.
	Allowed    bool
	DenyReason string
	// Deciding is the policy statement that decided a denial; nil when no
	// statement decided (an implicit deny, a residency refusal).
	Deciding  *policy.StatementRef
	Route     string
	Attempts  []Attempt
	Status    int
	ErrorCode string
	Usage     inference.Usage
	Stream    bool
	Started   time.Time
	Latency   time.Duration
	TTFT      time.Duration
	// Overhead is the time Meridian itself spent on a served request, up
	// to its response headers; nil when nothing was served.
	Overhead *Overhead
	// Prompt and Completion are set only when content recording is on.
	Prompt     []inference.Message
	Completion string

	// ServiceTier is the tier the request was admitted in ("priority",
	// "default", "flex"); empty when it was refused before its tier was
	// read.
	ServiceTier string
	// AuditHash is the hash of the request's audit event in this region's
	// chain, set by the audit recorder; "" when the trail is off.
	AuditHash string
}

// Recorder receives every finished request. The audit trail, the live view
// and tests implement it. Record is called exactly once per request, before
// the response is complete for non-streaming calls and when a stream ends.
// An error means the request could not be recorded; the gateway answers 429
// rather than serve unrecorded (invariant 4), when it still can.
type Recorder interface {
	Record(ctx context.Context, rec *Record) error
}

// Recorders fans a record out to several recorders; the first error wins,
// and every recorder is still called.
type Recorders []Recorder

// Record implements Recorder.
func (rs Recorders) Record(ctx context.Context, rec *Record) error {
	var first error
	for _, r := range rs {
		if err := r.Record(ctx, rec); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Admit asks every recorder that can refuse work.
func (rs Recorders) Admit() error {
	for _, r := range rs {
		if a, ok := r.(Admitter); ok {
			if err := a.Admit(); err != nil {
				return err
			}
		}
	}
	return nil
}

// codeConflict is Bedrock's ConflictException, which the Bedrock front end
// answers with 409 whatever the error's kind.
const codeConflict = "ConflictException"

// statusOf is the HTTP status the client got for e, so that the record and
// the audit event carry it: the kind's, except for a conflict (409).
func statusOf(e *inference.Error) int {
	if e.Code == codeConflict {
		return http.StatusConflict
	}
	return e.Kind.Status()
}

// maxRequestedModel bounds Record.RequestedModel (invariant: never echo or
// store unbounded caller input).
const maxRequestedModel = MaxRequestedModel

// MaxRequestedModel is the longest model field, in bytes, a record keeps
// of what the caller sent. It equals the audit event's bound
// (audit.MaxRequestedModelID; a node test keeps them equal).
const MaxRequestedModel = 256

// boundedModel cuts a caller's model id to maxRequestedModel bytes at a
// UTF-8 boundary.
func boundedModel(s string) string {
	if len(s) <= maxRequestedModel {
		return s
	}
	cut := maxRequestedModel
	for back := 0; back < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); back++ {
		cut--
	}
	return s[:cut]
}

// noteRefusal marks rec as refused when a resolution error is a refusal
// rather than a miss: a profile not callable from this source region
// (residency), or an ARN naming another account.
func noteRefusal(rec *Record, cat *profile.Catalog, err error) {
	switch {
	case errors.Is(err, profile.ErrNotCallable):
		rec.Allowed = false
		rec.DenyReason = "residency: " + strings.TrimPrefix(err.Error(), profile.ErrNotCallable.Error()+": ")
	case strings.HasPrefix(rec.RequestedModel, "arn:"):
		a, perr := profile.ParseARN(rec.RequestedModel)
		if perr == nil && a.Account != "" && a.Account != cat.Account() {
			rec.Allowed = false
			rec.DenyReason = "the ARN names account " + a.Account + ", not this gateway's account " + cat.Account()
		}
	}
}

// noteDenial copies a policy denial's deciding statement into rec. The
// client's message stays as the authorizer wrote it (action and ARN only).
func noteDenial(rec *Record, err error) {
	var d *DenyCause
	if !errors.As(err, &d) {
		return
	}
	rec.DenyReason = d.Error()
	if d.Statement != (policy.StatementRef{}) {
		st := d.Statement
		rec.Deciding = &st
	}
}

// sourceARN is the ARN a request's record names: the resolved profile's
// ARN in the source region. An application profile created through the API
// in another region is named by its home region's ARN elsewhere, but it was
// called here, under this region's ARN (the one resolution accepts).
func sourceARN(cat *profile.Catalog, res *profile.Resolution, source string) string {
	if p := res.Profile; p != nil && p.Type == profile.Application && p.HomeRegion != "" && p.HomeRegion != source {
		return profile.ApplicationProfileARN(cat.Partition(), source, cat.Account(), p.ID)
	}
	return res.ProfileARN
}

// logDenial logs a refused request at info with the deciding statement,
// which the client's message never names (docs/policies.md).
func (g *Gateway) logDenial(ctx context.Context, rec *Record) {
	if !g.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{slog.String(telemetry.AttrRequestID, rec.RequestID), slog.String(telemetry.AttrPrincipal, rec.PrincipalID),
		slog.String(telemetry.AttrProfile, rec.ProfileID), slog.String(telemetry.AttrSourceRegion, rec.SourceRegion),
		slog.String("side", rec.Side), slog.Int(telemetry.AttrStatus, rec.Status), slog.String(telemetry.AttrReason, rec.DenyReason)}
	if d := rec.Deciding; d != nil {
		attrs = append(attrs, slog.String(telemetry.AttrPolicy, d.Policy), slog.Int(telemetry.AttrStatementIndex, d.Index),
			slog.String(telemetry.AttrSid, d.Sid), slog.Bool(telemetry.AttrGuardrail, d.Guardrail))
	}
	g.log.LogAttrs(ctx, slog.LevelInfo, "request denied", attrs...)
}
