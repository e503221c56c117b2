package auth

import (
	"strconv"
	"unicode/utf8"
)

// Truncate returns s unchanged when it has at most n bytes, else its first
// n bytes (cut at a rune boundary) followed by a marker saying how long s
// was: "…(+1234 bytes)". Errors that quote what a caller sent (model ids,
// ARNs, header values) pass it through Truncate, so that a response never
// echoes unbounded input.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
}
