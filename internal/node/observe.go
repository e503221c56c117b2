package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/gateway"
)

// observedRegisterer registers collectors that wait, before each
// collection, for the observations already put off (see
// gateway.Observing): the OpenTelemetry metrics are recorded once an
// answer is out, and a scrape right after an answer must count it.
type observedRegisterer struct {
	prometheus.Registerer
	o *gateway.Observing
}

func (r observedRegisterer) Register(c prometheus.Collector) error {
	return r.Registerer.Register(observedCollector{c, r.o})
}

func (r observedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister finds the collector by its descriptions, which the wrapper
// shares.
func (r observedRegisterer) Unregister(c prometheus.Collector) bool {
	return r.Registerer.Unregister(observedCollector{c, r.o})
}

// observedCollector is a collector that waits for the observations put off
// before it collects.
type observedCollector struct {
	prometheus.Collector
	o *gateway.Observing
}

func (c observedCollector) Collect(ch chan<- prometheus.Metric) {
	c.o.Wait()
	c.Collector.Collect(ch)
}
