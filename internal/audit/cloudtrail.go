package audit

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// CloudTrail export: Meridian's events in the shape of Amazon Bedrock's
// CloudTrail records, so that SIEM rules written against Bedrock
// (awsRegion, requestParameters.modelId,
// additionalEventData.inferenceRegion, ...) run unchanged. Field names
// follow AWS's documented sample event for Bedrock
// (testdata/cloudtrail/bedrock-sample.json).

// CloudTrailEventVersion is the eventVersion of exported records.
const CloudTrailEventVersion = "1.09"

// CloudTrailRecord is one exported record.
type CloudTrailRecord struct {
	EventVersion    string             `json:"eventVersion"`
	UserIdentity    CloudTrailIdentity `json:"userIdentity"`
	EventTime       string             `json:"eventTime"`
	EventSource     string             `json:"eventSource"`
	EventName       string             `json:"eventName"`
	AWSRegion       string             `json:"awsRegion"`
	SourceIPAddress string             `json:"sourceIPAddress"`
	UserAgent       string             `json:"userAgent"`
	// ErrorCode and ErrorMessage are set for a refused or failed call, in
	// Bedrock's exception names (AccessDeniedException, ...).
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// RequestParameters holds modelId as the caller sent it and, for
	// Converse, its requestMetadata.
	RequestParameters *CloudTrailRequestParameters `json:"requestParameters"`
	// ResponseElements is always null, as in Bedrock's inference records.
	ResponseElements    json.RawMessage                `json:"responseElements"`
	AdditionalEventData *CloudTrailAdditionalEventData `json:"additionalEventData,omitempty"`
	// RequestID is the Meridian request id; EventID is unique per record
	// (derived from the event's hash).
	RequestID          string `json:"requestID"`
	EventID            string `json:"eventID"`
	ReadOnly           bool   `json:"readOnly"`
	EventType          string `json:"eventType"`
	RecipientAccountID string `json:"recipientAccountId"`
}

// CloudTrailIdentity is userIdentity: the Meridian principal as an IAM user
// of the topology's account.
type CloudTrailIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// CloudTrailRequestParameters is requestParameters.
type CloudTrailRequestParameters struct {
	ModelID         string            `json:"modelId"`
	RequestMetadata map[string]string `json:"requestMetadata,omitempty"`
}

// CloudTrailAdditionalEventData is additionalEventData: where inference ran
// when it ran outside the source region (Bedrock omits inferenceRegion for
// a call served where it entered) and, as Meridian additions, the token
// usage, route reason and trace id. additionalEventData is CloudTrail's
// service-specific member; a top-level key of its own would be outside
// the record's documented fields.
type CloudTrailAdditionalEventData struct {
	InferenceRegion string           `json:"inferenceRegion,omitempty"`
	Usage           *CloudTrailUsage `json:"usage,omitempty"`
	RouteReason     string           `json:"meridianRouteReason,omitempty"`
	// TraceID is the event's traceId, when the request was traced.
	TraceID string `json:"meridianTraceId,omitempty"`
}

// CloudTrailUsage is the token usage of a call.
type CloudTrailUsage struct {
	InputTokens  int64 `json:"inputTokens"`
	OutputTokens int64 `json:"outputTokens"`
}

// CloudTrailAccount names the account and partition exported records
// belong to.
type CloudTrailAccount struct {
	Partition string // "aws" if empty
	Account   string
}

// MeridianOperations are the eventNames of calls to Meridian's own
// endpoints (the console's API, metrics, the regions view, and requests no
// route serves: internal/node/listener.go, internal/ui/handler.go). They
// are no Bedrock API call, and the CloudTrail export leaves them out: as
// bedrock.amazonaws.com records they would read as Bedrock calls.
var MeridianOperations = map[string]bool{
	"GetMetrics": true, "GetRegions": true, "StreamLive": true, "GetRequest": true,
	"OperateRegion": true, "Redirect": true, "UnknownOperation": true,
}

// CloudTrailRecordOf maps a source-side event to its CloudTrail record. It
// reports false for events Bedrock would not record as an API call in the
// source region: gap markers, destination-side events (their source
// event is the call) and Meridian's own operations ([MeridianOperations]).
func CloudTrailRecordOf(e *Event, acct CloudTrailAccount) (*CloudTrailRecord, bool) {
	if e.Gap != nil || e.Side == SideDestination || MeridianOperations[e.EventName] {
		return nil, false
	}
	partition := acct.Partition
	if partition == "" {
		partition = "aws"
	}
	r := &CloudTrailRecord{
		EventVersion: CloudTrailEventVersion,
		UserIdentity: CloudTrailIdentity{Type: "IAMUser", PrincipalID: e.UserIdentity.PrincipalID, AccountID: acct.Account,
			AccessKeyID: e.UserIdentity.AccessKeyID, UserName: e.UserIdentity.PrincipalID},
		EventTime:          e.EventTime.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource:        "bedrock.amazonaws.com",
		EventName:          e.EventName,
		AWSRegion:          e.SourceRegion,
		SourceIPAddress:    e.SourceIPAddress,
		UserAgent:          e.UserAgent,
		ResponseElements:   json.RawMessage("null"),
		RequestID:          e.EventID,
		EventID:            eventUUID(e),
		ReadOnly:           true,
		EventType:          "AwsApiCall",
		RecipientAccountID: acct.Account,
	}
	if e.UserIdentity.PrincipalID != "" {
		r.UserIdentity.ARN = "arn:" + partition + ":iam::" + acct.Account + ":user/" + e.UserIdentity.PrincipalID
	}
	if e.RequestParameters != nil || len(e.RequestMetadata) > 0 {
		r.RequestParameters = &CloudTrailRequestParameters{RequestMetadata: e.RequestMetadata}
		if e.RequestParameters != nil {
			r.RequestParameters.ModelID = e.RequestParameters.ModelID
		}
	}
	// As Bedrock, inferenceRegion is present only when the call ran
	// outside its source region.
	inferenceRegion := e.InferenceRegion
	if inferenceRegion == e.SourceRegion {
		inferenceRegion = ""
	}
	if inferenceRegion != "" || e.Usage != (Usage{}) || e.RouteReason != "" || e.TraceID != "" {
		r.AdditionalEventData = &CloudTrailAdditionalEventData{InferenceRegion: inferenceRegion, RouteReason: e.RouteReason, TraceID: e.TraceID}
		if e.Usage != (Usage{}) {
			r.AdditionalEventData.Usage = &CloudTrailUsage{InputTokens: e.Usage.InputTokens, OutputTokens: e.Usage.OutputTokens}
		}
	}
	if e.StatusCode >= 400 || e.ErrorCode != "" {
		r.ErrorCode = cloudTrailErrorCode(e.ErrorCode, e.StatusCode)
		r.ErrorMessage = e.Decision.Reason
	}
	return r, true
}

// cloudTrailErrorCode maps Meridian's error kind (or status) to Bedrock's
// exception name.
func cloudTrailErrorCode(kind string, status int) string {
	switch kind {
	case "permission_denied":
		return "AccessDeniedException"
	case "unauthenticated":
		return "UnrecognizedClientException"
	case "throttled":
		return "ThrottlingException"
	case "invalid_request", "payload_too_large":
		return "ValidationException"
	case "not_found":
		return "ResourceNotFoundException"
	case "timeout":
		return "ModelTimeoutException"
	case "unavailable":
		return "ServiceUnavailableException"
	case "upstream_error":
		return "ModelErrorException"
	}
	switch {
	case status == 403:
		return "AccessDeniedException"
	case status == 429:
		return "ThrottlingException"
	case status >= 400 && status < 500:
		return "ValidationException"
	}
	return "InternalServerException"
}

// eventUUID formats the first 16 bytes of the event's hash as a UUID: a
// record id that is unique per event (the request id is shared by an
// event's source and destination sides) and stable across exports.
func eventUUID(e *Event) string {
	b, err := hex.DecodeString(e.Hash)
	if err != nil || len(b) < 16 {
		return e.EventID
	}
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// CloudTrailWriter writes records as a CloudTrail log file:
// {"Records":[...]}. Close writes the end.
type CloudTrailWriter struct {
	w    io.Writer
	acct CloudTrailAccount
	n    int
	err  error
}

// NewCloudTrailWriter starts a CloudTrail log file on w.
func NewCloudTrailWriter(w io.Writer, acct CloudTrailAccount) *CloudTrailWriter {
	c := &CloudTrailWriter{w: w, acct: acct}
	_, c.err = io.WriteString(w, `{"Records":[`)
	return c
}

// Write adds e's record, if it has one (see [CloudTrailRecordOf]).
func (c *CloudTrailWriter) Write(e *Event) error {
	if c.err != nil {
		return c.err
	}
	r, ok := CloudTrailRecordOf(e, c.acct)
	if !ok {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode cloudtrail record: %w", err)
	}
	if c.n > 0 {
		b = append([]byte{',', '\n'}, b...)
	} else {
		b = append([]byte{'\n'}, b...)
	}
	if _, c.err = c.w.Write(b); c.err != nil {
		return c.err
	}
	c.n++
	return nil
}

// Close ends the file and returns the number of records written.
func (c *CloudTrailWriter) Close() (int, error) {
	if c.err != nil {
		return c.n, c.err
	}
	_, c.err = io.WriteString(c.w, "\n]}\n")
	return c.n, c.err
}

// ExportOptions configure [ExportCloudTrail].
type ExportOptions struct {
	Account CloudTrailAccount
	// Keys verify the digests' signatures (see [Verify]).
	Keys []ed25519.PublicKey
	// Unverified exports a trail that does not verify (tampered, or with
	// lost events). The default refuses it: an export is evidence.
	Unverified bool
	// AllowUnsealed accepts events after a region's newest digest (a
	// running node's newest), which no signature covers, as `audit verify
	// --allow-unsealed` does. The default refuses them, as `audit verify`
	// reports such a trail UNVERIFIED.
	AllowUnsealed bool
}

// ExportCloudTrail writes the events of dir that match f as a CloudTrail log
// file ({"Records":[...]}) to w, returning the number of records. dir is a
// recording region's directory or the audit root. Unless opts.Unverified,
// every region's trail is verified first and nothing is written when one
// does not verify or is incomplete.
func ExportCloudTrail(dir string, f Filter, w io.Writer, opts ExportOptions) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if !opts.Unverified {
		dirs, err := LogDirs(dir)
		if err != nil {
			return 0, err
		}
		if len(dirs) == 0 {
			return 0, fmt.Errorf("%s holds no audit log", dir)
		}
		for _, d := range dirs {
			rep, err := Verify(d, opts.Keys...)
			var te *TamperError
			switch {
			case errors.As(err, &te):
				return 0, fmt.Errorf("%s does not verify: %w; export it anyway with --unverified", d, err)
			case err != nil:
				return 0, fmt.Errorf("verify %s: %w", d, err)
			case !rep.Complete():
				return 0, fmt.Errorf("%s does not verify: the trail is incomplete (%d gaps lost events); export it anyway with --unverified", d, len(rep.Gaps))
			case rep.Unsealed > 0 && !opts.AllowUnsealed:
				return 0, fmt.Errorf("%s is UNVERIFIED: %d events from %s on come after the newest digest and no signature covers them; pass --allow-unsealed to export them (protected by the hash chain only), or export after the node's next digest", d, rep.Unsealed, rep.UnsealedFrom)
			}
		}
	}
	cw := NewCloudTrailWriter(w, opts.Account)
	if err := Query(dir, f, cw.Write); err != nil {
		return 0, err
	}
	return cw.Close()
}
