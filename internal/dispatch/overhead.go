package dispatch

import (
	"strconv"
	"time"
)

// Timing is one node's account of a request, up to the moment it wrote the
// response headers (for a stream: at its first event).
type Timing struct {
	// Total is the node's whole handling time.
	Total time.Duration
	// Upstream is the part of Total spent in the backend call that served
	// the request.
	Upstream time.Duration
}

// Overhead is the time Meridian itself spent on a request: everything but
// the serving backend's own time, split by where it was spent
// (docs/performance.md, "Overhead per request"). Build it with
// [LocalOverhead] or [ForwardedOverhead].
type Overhead struct {
	// Source is the node the client called: its handling time minus the
	// backend call (served locally) or minus the forward call (forwarded).
	Source time.Duration
	// Link is the forward call minus the destination's own handling time:
	// sealing, mTLS, transfer both ways and the envelope's verification.
	Link time.Duration
	// Destination is the destination node's handling time minus its
	// backend call, as the destination reported it.
	Destination time.Duration
	// Upstream is the serving backend's time.
	Upstream time.Duration
	// Forwarded is true when the request ran in another region's node.
	Forwarded bool
	// Unreported is true for a forwarded request whose destination sent no
	// timing (an older node): only Source is known.
	Unreported bool
}

// LocalOverhead is the overhead of a request served by this node's own
// backend: total is the handling time, upstream the backend call.
func LocalOverhead(total, upstream time.Duration) *Overhead {
	return &Overhead{Source: nonNegative(total - upstream), Upstream: upstream}
}

// ForwardedOverhead is the overhead of a forwarded request: total is the
// source's handling time, forward its call to the destination, and dest
// the destination's report (nil when it sent none). Parts are clamped at
// zero, so that a report larger than the forward call (which a correct
// peer never sends) cannot make a part negative.
func ForwardedOverhead(total, forward time.Duration, dest *Timing) *Overhead {
	o := &Overhead{Source: nonNegative(total - forward), Forwarded: true}
	if dest == nil {
		o.Unreported = true
		return o
	}
	dt := min(nonNegative(dest.Total), forward)
	up := min(nonNegative(dest.Upstream), dt)
	o.Link, o.Destination, o.Upstream = forward-dt, dt-up, up
	return o
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// Known reports whether every part is known.
func (o *Overhead) Known() bool { return !o.Unreported }

// Total is the sum of the parts: the time Meridian added.
func (o *Overhead) Total() time.Duration { return o.Source + o.Link + o.Destination }

// ServerTiming is the Server-Timing header value: meridian-source, and for
// a forwarded request link and meridian-destination, then upstream.
func (o *Overhead) ServerTiming() string {
	var buf [128]byte
	return string(o.appendServerTiming(buf[:0]))
}

func (o *Overhead) appendServerTiming(b []byte) []byte {
	b = appendMetric(b, "meridian-source", o.Source)
	if !o.Known() {
		return b
	}
	if o.Forwarded {
		b = append(b, ", "...)
		b = appendMetric(b, "link", o.Link)
		b = append(b, ", "...)
		b = appendMetric(b, "meridian-destination", o.Destination)
	}
	b = append(b, ", "...)
	return appendMetric(b, "upstream", o.Upstream)
}

func appendMetric(b []byte, name string, d time.Duration) []byte {
	b = append(b, name...)
	b = append(b, ";dur="...)
	return appendMs(b, d)
}

// FormatMs formats d in milliseconds with three decimals (microseconds).
func FormatMs(d time.Duration) string { return string(appendMs(nil, d)) }

func appendMs(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d.Round(time.Microsecond))/float64(time.Millisecond), 'f', 3, 64)
}
