package audit

import (
	"strconv"
	"unicode/utf8"
)

// appendEvent appends the JSON encoding of e to dst: the same bytes as
// json.Marshal(e) (keys in field order, HTML-safe string escaping), without
// reflection. Event encoding is the largest per-request cost of the audit
// trail; encoding by hand halves it. TestAppendEventMatchesJSON and
// FuzzAppendEvent hold it to encoding/json's output.
func appendEvent(dst []byte, e *Event) []byte {
	dst = append(dst, `{"eventVersion":`...)
	dst = appendString(dst, e.EventVersion)
	dst = append(dst, `,"eventId":`...)
	dst = appendString(dst, e.EventID)
	dst = append(dst, `,"eventTime":"`...)
	dst = e.EventTime.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","eventName":`...)
	dst = appendString(dst, e.EventName)
	dst = append(dst, `,"side":`...)
	dst = appendString(dst, string(e.Side))
	dst = append(dst, `,"recordingRegion":`...)
	dst = appendString(dst, e.RecordingRegion)

	u := &e.UserIdentity
	dst = append(dst, `,"userIdentity":{"principalId":`...)
	dst = appendString(dst, u.PrincipalID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, u.Type)
	if u.APIKeyID != "" {
		dst = append(dst, `,"apiKeyId":`...)
		dst = appendString(dst, u.APIKeyID)
	}
	if u.AccessKeyID != "" {
		dst = append(dst, `,"accessKeyId":`...)
		dst = appendString(dst, u.AccessKeyID)
	}

	dst = append(dst, `},"sourceIPAddress":`...)
	dst = appendString(dst, e.SourceIPAddress)
	dst = append(dst, `,"userAgent":`...)
	dst = appendString(dst, e.UserAgent)
	dst = append(dst, `,"sourceRegion":`...)
	dst = appendString(dst, e.SourceRegion)
	dst = append(dst, `,"inferenceRegion":`...)
	dst = appendString(dst, e.InferenceRegion)
	dst = append(dst, `,"inferenceProfileArn":`...)
	dst = appendString(dst, e.InferenceProfileARN)
	dst = append(dst, `,"modelId":`...)
	dst = appendString(dst, e.ModelID)

	dst = append(dst, `,"decision":{"allowed":`...)
	dst = strconv.AppendBool(dst, e.Decision.Allowed)
	if e.Decision.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = appendString(dst, e.Decision.Reason)
	}
	dst = append(dst, `},"routeReason":`...)
	dst = appendString(dst, e.RouteReason)

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
			dst = appendString(dst, a.Region)
			dst = append(dst, `,"outcome":`...)
			dst = appendString(dst, a.Outcome)
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
	dst = appendString(dst, e.ErrorCode)
	dst = append(dst, `,"usage":{"inputTokens":`...)
	dst = strconv.AppendInt(dst, e.Usage.InputTokens, 10)
	dst = append(dst, `,"outputTokens":`...)
	dst = strconv.AppendInt(dst, e.Usage.OutputTokens, 10)
	dst = append(dst, `},"latencyMs":`...)
	dst = strconv.AppendInt(dst, e.LatencyMs, 10)
	dst = append(dst, `,"ttftMs":`...)
	dst = strconv.AppendInt(dst, e.TTFTMs, 10)
	if e.Content != nil {
		dst = append(dst, `,"content":{"prompt":`...)
		dst = appendString(dst, e.Content.Prompt)
		dst = append(dst, `,"completion":`...)
		dst = appendString(dst, e.Content.Completion)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"prevHash":`...)
	dst = appendString(dst, e.PrevHash)
	dst = append(dst, `,"hash":`...)
	dst = appendString(dst, e.Hash)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string escaped as encoding/json does with
// HTML escaping: ", \, control characters, <, > and & are escaped, invalid
// UTF-8 becomes \ufffd, and U+2028 and U+2029 are escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
