package interregion

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
)

// HeaderTiming is set by the destination on a forwarded answer (for a
// stream, on the headers written at its first event): its own handling
// time and, of that, its backend call's, as whole nanoseconds:
// "total=81200;upstream=40100". The source subtracts it from its forward
// call to tell the link's time from the destination's (docs/performance.md,
// "Overhead per request"). A node from before it sets none.
const HeaderTiming = "Meridian-Link-Timing"

// maxTiming bounds a reported duration: a value beyond it is refused as
// malformed rather than trusted.
const maxTiming = 24 * time.Hour

// setTiming writes o, the destination's overhead, as HeaderTiming.
func setTiming(h http.Header, o *dispatch.Overhead) {
	if o == nil {
		return
	}
	t := o.Source + o.Upstream
	// Appended in one buffer: the concatenation of two FormatInts cost
	// three allocations per forwarded answer, this one (and the value's
	// slice); HeaderTiming is canonical, so no Set is needed.
	var buf [64]byte
	b := append(buf[:0], "total="...)
	b = strconv.AppendInt(b, int64(t), 10)
	b = append(b, ";upstream="...)
	b = strconv.AppendInt(b, int64(o.Upstream), 10)
	h[HeaderTiming] = []string{string(b)}
}

// parseTiming reads HeaderTiming. It returns nil when the value is absent
// or malformed (the overhead is then reported without the split), never an
// error: timing must not fail a request that was served.
func parseTiming(v string) *dispatch.Timing {
	if v == "" || len(v) > 128 {
		return nil
	}
	var t dispatch.Timing
	var seen int
	for part := range strings.SplitSeq(v, ";") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 || time.Duration(n) > maxTiming {
			return nil
		}
		switch name {
		case "total":
			t.Total, seen = time.Duration(n), seen|1
		case "upstream":
			t.Upstream, seen = time.Duration(n), seen|2
		}
	}
	if seen != 3 || t.Upstream > t.Total {
		return nil
	}
	return &t
}
