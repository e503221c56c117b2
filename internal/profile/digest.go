package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
)

// ResidencyDigest is a hash of everything in the catalog that decides where
// a request may run: each region's geography, which geographies take part in
// global routing, and every profile's destinations and sources, per source when the
// topology sets them. Nodes
// exchange it over the link; two nodes with different digests disagree
// about residency (a topology rolled out to only some regions). It is
// computed once, when the catalog is built.
func (c *Catalog) ResidencyDigest() string { return c.digest }

func (c *Catalog) residencyDigest() string {
	var b strings.Builder
	b.WriteString("meridian residency v1\n")
	for _, r := range slices.Sorted(maps.Keys(c.geoOf)) {
		g := c.geoOf[r]
		b.WriteString("region " + r + " " + g)
		if c.globalOK[g] {
			b.WriteString(" global")
		}
		b.WriteByte('\n')
	}
	for _, id := range c.ids {
		p := c.profiles[id]
		b.WriteString("profile " + id + " " + p.Type.String() + " " + p.Scope + " " + p.Model +
			" dst=" + strings.Join(p.Destinations, ",") + " src=" + strings.Join(p.Sources, ","))
		// Per-source sets only when the topology gives them, so the digest
		// of a topology without them is the one earlier versions computed.
		for _, src := range slices.Sorted(maps.Keys(p.PerSource)) {
			b.WriteString(" " + src + ">" + strings.Join(p.PerSource[src], ","))
		}
		b.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}
