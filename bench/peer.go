package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ExternalPeer is a gateway already running on loopback (started by a
// script in bench/peers) measured on the same requests. Header values may
// contain "{upstream}", replaced by the run's mockllm base URL, so that a
// gateway configured per request (Portkey's x-portkey-custom-host) targets
// the same upstream as every other scenario.
//
// pid, if positive, is the peer's process: its CPU time (from /proc) is
// added to each step's, since it does not run in this process.
func ExternalPeer(name, base string, header http.Header, pid int) (Peer, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Peer{}, fmt.Errorf("peer %s: %q is not an http:// base URL", name, base)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return Peer{}, fmt.Errorf("peer %s: %s is not a loopback address (the benchmark sends load to loopback only)", name, u.Host)
	}
	base = strings.TrimSuffix(base, "/")
	return Peer{Name: name, PID: pid, Start: func(ctx context.Context, upstream string) (string, http.Header, func(), error) {
		h := http.Header{}
		for k, vs := range header {
			for _, v := range vs {
				h.Add(k, strings.ReplaceAll(v, "{upstream}", upstream))
			}
		}
		return base, h, func() {}, nil
	}}, nil
}
