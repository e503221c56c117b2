package demo_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/demo"
	"github.com/meridian-gateway/meridian/internal/demo/demotest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestDemoChatModelsDoNotEmbed: as in a real deployment, the demo's chat
// models generate text and do not embed, and its embedding model embeds
// and does not chat: the topology declares it (capabilities), and the
// running demo answers an embeddings request for a chat model with a 400
// before any upstream call, while demo.embed answers it.
func TestDemoChatModelsDoNotEmbed(t *testing.T) {
	_, cfg, err := demo.Topology(demo.TopologyOptions{BasePort: 30000, DataDir: t.TempDir(),
		KeyHash: "sha256:" + strings.Repeat("0", 64), AccessKeyID: "AKIAMERIDIANEXAMPLE"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cfg.Deployments {
		caps := d.EffectiveCapabilities()
		embeds, chats := slices.Contains(caps, topology.CapabilityEmbeddings), d.Model != "demo.embed"
		if embeds == chats {
			t.Errorf("%s in %s has capabilities %v: a chat model must not embed, an embedding model must", d.Model, d.Region, caps)
		}
		if chats && !slices.Contains(caps, topology.CapabilityTools) {
			t.Errorf("%s in %s has capabilities %v, want every chat feature the simulator serves", d.Model, d.Region, caps)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard
	defer cancel()
	d := demotest.Start(t, ctx)
	eu := d.Node("eu-west-1").ClientAddr()
	embed := func(model string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+eu+"/v1/embeddings",
			strings.NewReader(`{"model":"`+model+`","input":["residency"],"dimensions":8}`))
		req.Header.Set("Authorization", "Bearer "+d.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := embed("eu.demo.embed"); status != 200 || !strings.Contains(b, `"embedding"`) {
		t.Errorf("eu.demo.embed: %d %s, want vectors", status, b)
	}
	for _, m := range []string{"eu.demo.chat-small", "eu.demo.chat-large"} {
		if status, b := embed(m); status != 400 || strings.Contains(b, `"embedding"`) {
			t.Errorf("%s: %d %s, want a 400: a chat model does not embed", m, status, b)
		}
	}
}
