package receipt

import (
	"crypto/tls"
	"errors"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// Issuer signs receipts for one node. It is what the request path holds:
// the node builds it from its link store and clock, e.g.
//
//	receipt.Issuer{Certificate: linkStore.Certificate, Clock: clk}
//
// and a nil *Issuer means the node issues no receipts (no link
// certificates, development only). An Issuer is safe for concurrent use if
// its functions are.
type Issuer struct {
	// Certificate returns the node's current link certificate with its
	// private key (pki.Store.Certificate); it is called for every receipt,
	// so a rotated certificate takes effect at once.
	Certificate func() *tls.Certificate
	// Clock tells the time for IssuedAt. If nil, clock.Wall.
	Clock clock.Clock
}

// Issue sets c.IssuedAt to now and signs c with the current link
// certificate (see [SignTLS]).
func (i *Issuer) Issue(c Claims) (string, error) {
	if i == nil || i.Certificate == nil {
		return "", errors.New("sign receipt: this node issues no receipts (no link certificate)")
	}
	c.IssuedAt = clock.Or(i.Clock).Now()
	return SignTLS(c, i.Certificate())
}
