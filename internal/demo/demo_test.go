package demo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/demo"
	"github.com/meridian-gateway/meridian/internal/demo/demotest"
)

// TestDemoLeavesNothingBehind: the demo kept created application profiles
// in ./data/<region>/profiles.json, in whatever directory it was started
// from, and left them there. Its state belongs in its own directory, which
// Stop removes.
func TestDemoLeavesNothingBehind(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard
	defer cancel()
	var d *demo.Demo
	var err error
	for range 4 {
		if d, err = demo.Start(ctx, demo.Options{BasePort: demotest.FreeBase(t)}); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	dataDir := d.Config.Server.DataDir
	if !filepath.IsAbs(dataDir) || strings.HasPrefix(dataDir, cwd) {
		t.Errorf("server.data_dir = %q, want a directory of the demo's own, outside the current directory %s", dataDir, cwd)
	}
	// What a created profile would write.
	if err := os.MkdirAll(filepath.Join(dataDir, "eu-west-1"), 0o750); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := d.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("after Stop, %s still exists (%v)", dataDir, err)
	}
	if left, _ := os.ReadDir(cwd); len(left) != 0 {
		t.Errorf("the demo left %v in the directory it was started from", left)
	}
}

func TestTopologyDataDir(t *testing.T) {
	t.Parallel()
	_, cfg, err := demo.Topology(demo.TopologyOptions{BasePort: 30000, DataDir: "/var/tmp/x",
		KeyHash: "sha256:" + strings.Repeat("0", 64), AccessKeyID: "AKIAMERIDIANEXAMPLE"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.DataDir != "/var/tmp/x" {
		t.Errorf("Topology(DataDir /var/tmp/x): server.data_dir = %q", cfg.Server.DataDir)
	}
}
