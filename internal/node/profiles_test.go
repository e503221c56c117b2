package node

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestProfilesOutliveReloads: the node's one registry feeds every
// generation, so an API-created profile is served by the gateway a reload
// swaps in, one created after the reload is too, and a profile whose copy
// source a reload removes comes back when a later reload restores it.
func TestProfilesOutliveReloads(t *testing.T) {
	t.Parallel()
	n, _ := peerNode(t)
	create := func(id, copyFrom string) {
		t.Helper()
		if _, _, err := n.profiles.Create(n.Gateway().Catalog(), profile.Record{ID: id, Name: id, CopyFrom: copyFrom, HomeRegion: "eu-west-1"}, peerT0); err != nil {
			t.Fatalf("Create(%s): %v", id, err)
		}
	}
	serves := func(id string) bool {
		_, err := n.Gateway().Catalog().Resolve("eu-west-1", id)
		return err == nil
	}
	create("before000001", "eu.demo.chat-small")
	create("pinned000001", "demo.chat-small")
	v1 := n.Config()

	// v2 drops eu-west-1's deployment: the model copy has nothing to copy
	// in eu-west-1 any more.
	v2 := withoutDeployment(v1, "eu-west-1", topology.ApplicationProfile{ID: "from-config", CopyFrom: "eu.demo.chat-small"})
	if err := n.Reload(v2); err != nil {
		t.Fatal(err)
	}
	if !serves("before000001") || !serves("from-config") {
		t.Errorf("after reload: before000001 served %v, from-config served %v; want both", serves("before000001"), serves("from-config"))
	}
	if serves("pinned000001") {
		t.Errorf("after reload: pinned000001 still served in eu-west-1, which no longer hosts its model")
	}
	create("after0000001", "eu.demo.chat-small")
	if !serves("after0000001") {
		t.Errorf("a profile created after the reload is not served")
	}
	if _, ok := n.profiles.Get("pinned000001"); !ok {
		t.Errorf("the registry dropped a record the topology cannot serve for now")
	}

	if err := n.Reload(v1); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"before000001", "pinned000001", "after0000001"} {
		if !serves(id) {
			t.Errorf("after the second reload %s is not served", id)
		}
	}
}
