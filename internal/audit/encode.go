package audit

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/meridian-gateway/meridian/internal/jsonesc"
)

// appendEvent appends the JSON encoding of e to dst: the same bytes as
// json.Marshal(e) (keys in field order, HTML-safe string escaping), without
// reflection. Event encoding is the largest per-request cost of the audit
// trail; encoding by hand halves it. TestAppendEventMatchesJSON and
// FuzzAppendEvent hold it to encoding/json's output.
func appendEvent(dst []byte, e *Event) []byte {
	dst = append(dst, `{"eventVersion":`...)
	dst = jsonesc.AppendString(dst, e.EventVersion)
	dst = append(dst, `,"eventId":`...)
	dst = jsonesc.AppendString(dst, e.EventID)
	dst = append(dst, `,"eventTime":"`...)
	dst = appendTime(dst, e.EventTime.Time)
	dst = append(dst, `","eventName":`...)
	dst = jsonesc.AppendString(dst, e.EventName)
	dst = append(dst, `,"side":`...)
	dst = jsonesc.AppendString(dst, string(e.Side))
	dst = append(dst, `,"recordingRegion":`...)
	dst = jsonesc.AppendString(dst, e.RecordingRegion)

	u := &e.UserIdentity
	dst = append(dst, `,"userIdentity":{"principalId":`...)
	dst = jsonesc.AppendString(dst, u.PrincipalID)
	dst = append(dst, `,"type":`...)
	dst = jsonesc.AppendString(dst, u.Type)
	if u.APIKeyID != "" {
		dst = append(dst, `,"apiKeyId":`...)
		dst = jsonesc.AppendString(dst, u.APIKeyID)
	}
	if u.AccessKeyID != "" {
		dst = append(dst, `,"accessKeyId":`...)
		dst = jsonesc.AppendString(dst, u.AccessKeyID)
	}

	dst = append(dst, `},"sourceIPAddress":`...)
	dst = jsonesc.AppendString(dst, e.SourceIPAddress)
	dst = append(dst, `,"userAgent":`...)
	dst = jsonesc.AppendString(dst, e.UserAgent)
	dst = append(dst, `,"sourceRegion":`...)
	dst = jsonesc.AppendString(dst, e.SourceRegion)
	dst = append(dst, `,"inferenceRegion":`...)
	dst = jsonesc.AppendString(dst, e.InferenceRegion)
	dst = append(dst, `,"inferenceProfileArn":`...)
	dst = jsonesc.AppendString(dst, e.InferenceProfileARN)
	dst = append(dst, `,"modelId":`...)
	dst = jsonesc.AppendString(dst, e.ModelID)
	if e.RequestParameters != nil {
		dst = append(dst, `,"requestParameters":{"modelId":`...)
		dst = jsonesc.AppendString(dst, e.RequestParameters.ModelID)
		dst = append(dst, '}')
	}

	if len(e.RequestMetadata) > 0 {
		// encoding/json writes map keys sorted.
		dst = append(dst, `,"requestMetadata":{`...)
		for i, k := range slices.Sorted(maps.Keys(e.RequestMetadata)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonesc.AppendString(dst, k)
			dst = append(dst, ':')
			dst = jsonesc.AppendString(dst, e.RequestMetadata[k])
		}
		dst = append(dst, '}')
	}

	dst = append(dst, `,"decision":{"allowed":`...)
	dst = strconv.AppendBool(dst, e.Decision.Allowed)
	if e.Decision.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = jsonesc.AppendString(dst, e.Decision.Reason)
	}
	if s := e.Decision.DecidingStatement; s != nil {
		dst = append(dst, `,"decidingStatement":{"policy":`...)
		dst = jsonesc.AppendString(dst, s.Policy)
		if s.Sid != "" {
			dst = append(dst, `,"sid":`...)
			dst = jsonesc.AppendString(dst, s.Sid)
		}
		dst = append(dst, `,"index":`...)
		dst = strconv.AppendInt(dst, int64(s.Index), 10)
		if s.Guardrail {
			dst = append(dst, `,"guardrail":true`...)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `},"routeReason":`...)
	dst = jsonesc.AppendString(dst, e.RouteReason)
	if e.ServiceTier != "" {
		dst = append(dst, `,"serviceTier":`...)
		dst = jsonesc.AppendString(dst, e.ServiceTier)
	}

	if e.Attempts == nil {
		dst = append(dst, `,"attempts":null`...)
	} else {
		dst = append(dst, `,"attempts":[`...)
		for i := range e.Attempts {
			a := &e.Attempts[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"region":`...)
			dst = jsonesc.AppendString(dst, a.Region)
			dst = append(dst, `,"outcome":`...)
			dst = jsonesc.AppendString(dst, a.Outcome)
			dst = append(dst, `,"durationMs":`...)
			dst = strconv.AppendInt(dst, a.DurationMs, 10)
			if a.Status != 0 {
				dst = append(dst, `,"status":`...)
				dst = strconv.AppendInt(dst, int64(a.Status), 10)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}

	dst = append(dst, `,"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(e.StatusCode), 10)
	dst = append(dst, `,"errorCode":`...)
	dst = jsonesc.AppendString(dst, e.ErrorCode)
	dst = append(dst, `,"usage":{"inputTokens":`...)
	dst = strconv.AppendInt(dst, e.Usage.InputTokens, 10)
	dst = append(dst, `,"outputTokens":`...)
	dst = strconv.AppendInt(dst, e.Usage.OutputTokens, 10)
	dst = append(dst, `},"latencyMs":`...)
	dst = strconv.AppendInt(dst, e.LatencyMs, 10)
	dst = append(dst, `,"ttftMs":`...)
	dst = strconv.AppendInt(dst, e.TTFTMs, 10)
	if o := e.OverheadMs; o != nil {
		dst = append(dst, `,"overheadMs":{`...)
		for _, f := range [...]struct {
			key string
			v   *float64
		}{{`"total":`, o.Total}, {`"source":`, o.Source}, {`"link":`, o.Link}, {`"destination":`, o.Destination}, {`"upstream":`, o.Upstream}} {
			if f.v != nil {
				dst = append(dst, f.key...)
				dst = appendMs(dst, *f.v)
				dst = append(dst, ',')
			}
		}
		if dst[len(dst)-1] == ',' {
			dst = dst[:len(dst)-1]
		}
		dst = append(dst, '}')
	}
	if e.TraceID != "" {
		dst = append(dst, `,"traceId":`...)
		dst = jsonesc.AppendString(dst, e.TraceID)
	}
	if e.Content != nil {
		dst = append(dst, `,"content":{"prompt":`...)
		dst = jsonesc.AppendString(dst, e.Content.Prompt)
		dst = append(dst, `,"completion":`...)
		dst = jsonesc.AppendString(dst, e.Content.Completion)
		dst = append(dst, '}')
	}
	if e.Gap != nil {
		// Gap markers are rare (one per outage): encoding/json is fine.
		b, err := json.Marshal(e.Gap)
		if err != nil {
			panic("audit: gap does not encode: " + err.Error())
		}
		dst = append(dst, `,"gap":`...)
		dst = append(dst, b...)
	}
	dst = append(dst, `,"prevHash":`...)
	dst = jsonesc.AppendString(dst, e.PrevHash)
	dst = append(dst, `,"hash":`...)
	dst = jsonesc.AppendString(dst, e.Hash)
	return append(dst, '}')
}

// appendMs appends a millisecond value as encoding/json writes a float64
// (the values Meridian stores are rounded to the microsecond, so never in
// the exponent range of very small or very large numbers).
func appendMs(dst []byte, v float64) []byte {
	if v != 0 && (math.Abs(v) < 1e-6 || math.Abs(v) >= 1e21) {
		b, _ := json.Marshal(v)
		return append(dst, b...)
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// appendTime appends t as t.UTC().AppendFormat(dst, timeLayout) does (RFC
// 3339 in UTC, milliseconds truncated), without parsing the layout, which
// costs a quarter of an event's encoding. Years outside 0-9999, which the
// layout writes otherwise, go to AppendFormat. TestAppendTimeMatchesFormat
// and FuzzAppendTime hold it to AppendFormat's output.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, timeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}
