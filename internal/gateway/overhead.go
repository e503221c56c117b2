package gateway

import (
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
)

// Overhead is the dispatch package's: the time Meridian itself spent on a
// request (docs/performance.md, "Overhead per request").
type Overhead = dispatch.Overhead

// callOverhead is the overhead of the attempt that served a request, before
// the source's own time is known: a call of took to this node's backend
// (forwarded false) or to another region's node, which reported dest.
// [withSource] adds the source's part.
func callOverhead(forwarded bool, took time.Duration, dest *dispatch.Timing) *Overhead {
	if forwarded {
		return dispatch.ForwardedOverhead(took, took, dest)
	}
	return dispatch.LocalOverhead(took, took)
}

// withSource completes the overhead of a served request with the source's
// part: its whole handling time so far (total) minus the serving attempt's
// call, which is route's last attempt. Queueing, planning, authorization and
// failed attempts before the serving one are all the source's.
func withSource(route *Route, total time.Duration) {
	if route.Overhead == nil || len(route.Attempts) == 0 {
		return
	}
	// The overhead is this request's own (callOverhead's): set in place.
	route.Overhead.Source = max(total-route.Attempts[len(route.Attempts)-1].Duration, 0)
}

// observeOverhead feeds the overhead histogram of a request answered to a
// client by this node (the source): its total and its source part, and for
// a forwarded request the link and destination parts too, so that the
// parts add up to the total, in sum and (source against total) in count: a
// local request's overhead is all the source's. A destination observes
// nothing, so that a request is counted once across the nodes.
func (g *Gateway) observeOverhead(o *Overhead) {
	if o == nil || !o.Known() {
		return
	}
	h := g.metrics.Overhead
	h.WithLabelValues("total").Observe(o.Total().Seconds())
	h.WithLabelValues("source").Observe(o.Source.Seconds())
	if o.Forwarded {
		h.WithLabelValues("link").Observe(o.Link.Seconds())
		h.WithLabelValues("destination").Observe(o.Destination.Seconds())
	}
}
