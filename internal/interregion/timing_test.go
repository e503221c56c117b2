package interregion

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
)

func TestParseTiming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want *dispatch.Timing
	}{
		{"total=81200;upstream=40100", &dispatch.Timing{Total: 81200, Upstream: 40100}},
		{"upstream=0; total=0", &dispatch.Timing{}},
		{"total=5;upstream=5;future=1", &dispatch.Timing{Total: 5, Upstream: 5}},
		{"", nil},
		{"total=5", nil},                                       // upstream missing
		{"total=5;upstream=6", nil},                            // upstream longer than the total
		{"total=-1;upstream=0", nil},                           // negative
		{"total=1e3;upstream=0", nil},                          // not an integer
		{"total=86400000000001;upstream=0", nil},               // beyond a day
		{"total=99999999999999999999;upstream=0", nil},         // overflows
		{"total;upstream=0", nil},                              // no value
		{"total=5;upstream=1" + strings.Repeat(" ", 200), nil}, // too long
	}
	for _, tc := range tests {
		got := parseTiming(tc.in)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("parseTiming(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestTimingRoundTrip: what the destination writes, the source reads.
func TestTimingRoundTrip(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	setTiming(h, dispatch.LocalOverhead(812*time.Millisecond+81*time.Microsecond, 812*time.Millisecond))
	want := dispatch.Timing{Total: 812*time.Millisecond + 81*time.Microsecond, Upstream: 812 * time.Millisecond}
	if got := parseTiming(h.Get(HeaderTiming)); got == nil || *got != want {
		t.Errorf("parseTiming(%q) = %+v, want %+v", h.Get(HeaderTiming), got, want)
	}
	if v, want := h.Get(HeaderTiming), "total=812081000;upstream=812000000"; v != want {
		t.Errorf("%s = %q, want %q", HeaderTiming, v, want)
	}
	if http.CanonicalHeaderKey(HeaderTiming) != HeaderTiming {
		t.Errorf("HeaderTiming %q is not canonical: setTiming would set a key Get never finds", HeaderTiming)
	}
	h = http.Header{}
	setTiming(h, nil)
	if v := h.Get(HeaderTiming); v != "" {
		t.Errorf("no overhead: %s = %q, want unset", HeaderTiming, v)
	}
}

// TestSetTimingAllocs: the destination's timing header costs its value and
// the value's slice, nothing more.
func TestSetTimingAllocs(t *testing.T) {
	h := http.Header{}
	o := dispatch.LocalOverhead(812*time.Millisecond, 800*time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { setTiming(h, o) }); n > 2 {
		t.Errorf("setTiming allocates %v times, want at most 2 (the value and its slice)", n)
	}
}

// FuzzParseTiming: a peer's header never panics the source, and what it
// accepts is a consistent report.
func FuzzParseTiming(f *testing.F) {
	f.Add("total=81200;upstream=40100")
	f.Add("total=;upstream=")
	f.Add(";;==;")
	f.Fuzz(func(t *testing.T, v string) {
		got := parseTiming(v)
		if got != nil && (got.Upstream < 0 || got.Upstream > got.Total || got.Total > maxTiming) {
			t.Errorf("parseTiming(%q) = %+v: inconsistent", v, got)
		}
	})
}

// TestForwardedAnswerReportsTheDestinationsTime: over the real link, the
// destination's own time reaches the source's job; an answer without it
// (a node from before it) leaves the job's report nil.
func TestForwardedAnswerReportsTheDestinationsTime(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	c := l.client(t, false)
	job := forwardJob()
	if _, err := c.Executor(dst).Complete(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if job.Reported != nil {
		t.Errorf("an answer without timing reported %+v", job.Reported)
	}
	l.local.mu.Lock()
	l.local.overhead = dispatch.LocalOverhead(3*time.Millisecond, 2*time.Millisecond)
	l.local.mu.Unlock()
	job = forwardJob()
	if _, err := c.Executor(dst).Complete(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	want := dispatch.Timing{Total: 3 * time.Millisecond, Upstream: 2 * time.Millisecond}
	if job.Reported == nil || *job.Reported != want {
		t.Errorf("reported %+v, want %+v", job.Reported, want)
	}
}
