package inference

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Limits of request metadata, as Bedrock's Converse API sets them for
// requestMetadata and InvokeModel's request metadata header: at most 16
// pairs, keys of 1 to 256 characters, values of at most 256, both drawn
// from [a-zA-Z0-9\s:_@$#=/+,-.]. OpenAI's metadata has limits of its own
// ([ValidateOpenAIMetadata]).
const (
	MaxMetadataPairs    = 16
	MaxMetadataKeyLen   = 256
	MaxMetadataValueLen = 256
)

// ValidateMetadata checks caller-supplied request metadata against
// [MaxMetadataPairs], [MaxMetadataKeyLen], [MaxMetadataValueLen] and
// Bedrock's character set. Its error names the offending key, cut to 32
// characters, never the whole value. A nil or empty map is valid.
func ValidateMetadata(m map[string]string) error {
	return validateMetadata(m, MaxMetadataKeyLen, MaxMetadataValueLen, true)
}

// Limits of OpenAI's metadata, as its Chat Completions API sets them: at
// most 16 pairs, keys of at most 64 characters, values of at most 512,
// any characters.
const (
	MaxOpenAIMetadataKeyLen   = 64
	MaxOpenAIMetadataValueLen = 512
)

// ValidateOpenAIMetadata checks an OpenAI request's metadata against
// OpenAI's limits ([MaxMetadataPairs], [MaxOpenAIMetadataKeyLen],
// [MaxOpenAIMetadataValueLen]): what OpenAI itself would refuse is refused
// before it is recorded or sent. Its error names the offending key, cut
// to 32 characters. A nil or empty map is valid. Bedrock's narrower
// limits ([ValidateMetadata]) apply where it is sent to Bedrock.
func ValidateOpenAIMetadata(m map[string]string) error {
	return validateMetadata(m, MaxOpenAIMetadataKeyLen, MaxOpenAIMetadataValueLen, false)
}

// validateMetadata checks m's pairs against the lengths given and, for
// Bedrock, its non-empty keys and character set.
func validateMetadata(m map[string]string, keyLen, valueLen int, bedrock bool) error {
	if len(m) > MaxMetadataPairs {
		return fmt.Errorf("has %d pairs; at most %d are allowed", len(m), MaxMetadataPairs)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch {
		case bedrock && k == "":
			return fmt.Errorf("has an empty key")
		case utf8.RuneCountInString(k) > keyLen:
			return fmt.Errorf("key %s is longer than %d characters", quoteCut(k), keyLen)
		case bedrock && !metadataText(k):
			return fmt.Errorf("key %s has a character outside [a-zA-Z0-9 :_@$#=/+,-.] (and whitespace)", quoteCut(k))
		case utf8.RuneCountInString(v) > valueLen:
			return fmt.Errorf("value of key %s is longer than %d characters", quoteCut(k), valueLen)
		case bedrock && !metadataText(v):
			return fmt.Errorf("value of key %s has a character outside [a-zA-Z0-9 :_@$#=/+,-.] (and whitespace)", quoteCut(k))
		}
	}
	return nil
}

// metadataText reports whether s uses only [a-zA-Z0-9\s:_@$#=/+,-.], with
// \s as in RE2: space, \t, \n, \f, \r and \v.
func metadataText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ' ', c == '\t', c == '\n', c == '\f', c == '\r', c == '\v':
		case c == ':', c == '_', c == '@', c == '$', c == '#', c == '=', c == '/', c == '+', c == ',', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// quoteCut quotes at most the first 32 bytes of s, so that an error never
// echoes unbounded caller input.
func quoteCut(s string) string {
	if len(s) <= 32 {
		return strconv.Quote(s)
	}
	cut := 32
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
