package js

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gateway/meridian/internal/testenv"
)

// TestOpenAIJavaScriptPackage runs test/openai.test.mjs with node's test
// runner against the cluster TestBedrockRuntimeJavaScriptSDK uses: the
// openai npm package's responses.create (streamed and not) and
// embeddings.create, unmodified.
func TestOpenAIJavaScriptPackage(t *testing.T) {
	nodeBin := testenv.LookPath(t, "node")
	requireNodeModules(t)
	if _, err := os.Stat(filepath.Join("node_modules", "openai", "package.json")); err != nil {
		if testenv.Required() {
			t.Fatalf("clients/js/node_modules/openai is missing (fix: run \"npm ci\" in clients/js): %v", err)
		}
		t.Skip("clients/js/node_modules/openai is missing: run \"npm ci\" in clients/js")
	}
	endpoint, _, apiKey := startCluster(t, false)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"MERIDIAN_ENDPOINT=" + endpoint,
		"MERIDIAN_API_KEY=" + apiKey,
		"NODE_NO_WARNINGS=1",
	}
	if out, err := runNode(t, nodeBin, env, "--test", "--test-reporter=spec", filepath.Join("test", "openai.test.mjs")); err != nil {
		t.Fatalf("the openai package's checks failed: %v\n%s", err, out)
	}
}
