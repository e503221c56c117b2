package profile_test

import (
	"fmt"
	"time"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// A registry turns the records of API-created profiles into a catalog:
// records in, catalog out. Every change returns a new registry.
func ExampleRegistry() {
	cfg, err := topology.Load("testdata/topology.yaml")
	if err != nil {
		panic(err)
	}
	base, err := profile.New(cfg)
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var reg *profile.Registry // empty
	reg, rec, _, err := reg.Create(base, profile.Record{ID: "teamachat001", Name: "team-a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}, now)
	if err != nil {
		panic(err)
	}
	cat, _ := reg.Catalog(base)
	p, _ := cat.Get(rec.ID)
	fmt.Println(p.Type, p.Destinations)

	// A peer's tombstone, newer than the record, deletes it.
	tomb := rec
	tomb.Deleted, tomb.UpdatedAt = true, now.Add(time.Second)
	reg, changed, _ := reg.Merge(base, []profile.Record{tomb})
	cat, _ = reg.Catalog(base)
	_, ok := cat.Get(rec.ID)
	fmt.Println(changed, ok)
	// Output:
	// APPLICATION [eu-central-1 eu-west-1]
	// true false
}
