package inference

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 4, "abcd…[8 more bytes]"},
		{"ééé", 3, "é…[4 more bytes]"}, // never cuts a rune in half
		{"abc", 0, "…[3 more bytes]"},
		{"abc", -1, "…[3 more bytes]"},
	}
	for _, tc := range tests {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	big := strings.Repeat("€", 1<<20)
	if got := Clip(big, EchoLimit); len(got) > EchoLimit+32 || !utf8.ValidString(got) {
		t.Errorf("Clip(3 MB) = %d bytes (valid UTF-8 %v), want at most %d", len(got), utf8.ValidString(got), EchoLimit+32)
	}
}

func TestSaturatingAdd(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b, want int }{
		{1, 2, 3},
		{math.MaxInt, 1, math.MaxInt},
		{math.MaxInt, math.MaxInt, math.MaxInt},
		{math.MinInt, -1, math.MinInt},
		{math.MinInt, math.MinInt, math.MinInt},
		{math.MaxInt, math.MinInt, -1},
		{-5, 3, -2},
	}
	for _, tc := range tests {
		if got := SaturatingAdd(tc.a, tc.b); got != tc.want {
			t.Errorf("SaturatingAdd(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := (Usage{InputTokens: math.MaxInt, OutputTokens: 10}).Total(); got != math.MaxInt {
		t.Errorf("Usage.Total of absurd counts = %d, want it saturated", got)
	}
}

func TestEstimateTokens(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{-1: 0, 0: 0, 1: 1, 4: 1, 5: 2, 40: 10, math.MaxInt: math.MaxInt/4 + 1} {
		if got := EstimateTokens(n); got != want {
			t.Errorf("EstimateTokens(%d) = %d, want %d", n, got, want)
		}
	}
	r := &Request{Messages: []Message{TextMessage(RoleUser, "hello")}}
	if got := r.EstimatedInputTokens(); got != 4+2 {
		t.Errorf("EstimatedInputTokens = %d, want 6", got)
	}
}
