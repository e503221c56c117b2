package node

// CloseIdleConnections closes the node's idle connections to its model
// servers (the backends that keep a pool: OpenAI-compatible ones) and to
// its peers on the link; the node keeps serving, new requests dial. The
// bench calls it between measurements, so that a scenario does not carry
// the connections an earlier overloaded step left open (see "The local
// node at high rates" in docs/performance.md).
func (n *Node) CloseIdleConnections() {
	n.CloseIdleLinkConnections()
	g := n.gen.Load()
	if g == nil {
		return
	}
	for _, b := range g.backends {
		if c, ok := b.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}
