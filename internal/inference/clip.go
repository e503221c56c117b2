package inference

import (
	"strconv"
	"unicode/utf8"
)

// EchoLimit is the most bytes of one caller-supplied value that an error
// message quotes; the rest is replaced by a marker (see [Clip]).
const EchoLimit = 128

// Clip returns s unchanged when it is at most n bytes long, and otherwise
// its first n bytes (cut back to a rune boundary) followed by a marker
// saying how many bytes were left out. Error messages quote caller input
// through it so that a 3 MB model name is never echoed back.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[" + strconv.Itoa(len(s)-cut) + " more bytes]"
}

// SaturatingAdd returns a+b, or the int bound it would pass on overflow.
// Token counts are summed with it: a caller-chosen max_tokens must never
// wrap a reservation to a negative number.
func SaturatingAdd(a, b int) int {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return int(^uint(0) >> 1)
	case a < 0 && b < 0 && s >= 0:
		return -int(^uint(0)>>1) - 1
	}
	return s
}
