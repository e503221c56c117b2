// Package js runs the checks of clients that speak JavaScript against a
// real Meridian node: the AWS SDK for JavaScript's Bedrock Runtime client,
// unmodified, over HTTP/2 in cleartext (prior knowledge) and over TLS.
//
// The JavaScript dependencies are pinned in package-lock.json; install them
// with "npm ci" in this directory. Without node or node_modules the tests
// skip, unless MERIDIAN_INTEGRATION=required.
package js

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/testenv"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	accessKeyID = "AKIDMERIDIANJSCHECK"
	secret      = "meridian-js-check-secret/0123456789"
	secretEnv   = "MERIDIAN_JS_CHECK_SECRET"
)

// requireNodeModules skips (or, when required, fails) without the
// installed SDK.
func requireNodeModules(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("node_modules", "@aws-sdk", "client-bedrock-runtime", "package.json")); err != nil {
		if testenv.Required() {
			t.Fatalf("clients/js/node_modules is missing (fix: run \"npm ci\" in clients/js): %v", err)
		}
		t.Skip("clients/js/node_modules is missing: run \"npm ci\" in clients/js")
	}
}

// TestBedrockRuntimeJavaScriptSDK runs test/bedrock.test.mjs with node's
// test runner against a three-region cluster (two EU regions, one US),
// entering in eu-west-1, once over each transport the SDK can use.
func TestBedrockRuntimeJavaScriptSDK(t *testing.T) {
	nodeBin := testenv.LookPath(t, "node")
	requireNodeModules(t)
	for _, tc := range []struct {
		name string
		tls  bool
	}{
		{"h2c prior knowledge", false},
		{"h2 over TLS", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint, caFile, apiKey := startCluster(t, tc.tls)
			env := []string{
				"PATH=" + os.Getenv("PATH"),
				"HOME=" + t.TempDir(), // no ~/.aws of the machine's user
				"MERIDIAN_ENDPOINT=" + endpoint,
				"AWS_REGION=eu-west-1",
				"AWS_ACCESS_KEY_ID=" + accessKeyID,
				"AWS_SECRET_ACCESS_KEY=" + secret,
				"AWS_EC2_METADATA_DISABLED=true",
				"MERIDIAN_API_KEY=" + apiKey,
				"NODE_NO_WARNINGS=1",
			}
			if caFile != "" {
				env = append(env, "NODE_EXTRA_CA_CERTS="+caFile)
			}
			if out, err := runNode(t, nodeBin, env, "--test", "--test-reporter=spec", filepath.Join("test", "bedrock.test.mjs")); err != nil {
				t.Fatalf("the JavaScript SDK's checks failed: %v\n%s", err, out)
			}
			// The example docs/bedrock.md shows runs as it is.
			out, err := runNode(t, nodeBin, env, filepath.Join("examples", "converse.mjs"))
			if err != nil {
				t.Fatalf("examples/converse.mjs: %v\n%s", err, out)
			}
			// So does the README's, pointed at this node.
			readme := readmeExample(t)
			out2, err := runNode(t, nodeBin, env, "--input-type=module", "-e", strings.ReplaceAll(readme, demoEndpoint, endpoint))
			if err != nil || !strings.Contains(out2, " req-") {
				t.Errorf("README.md's example: %v, printed %q; want a text and a request id", err, out2)
			}
			if n := strings.Count(out, "served in eu-"); n != 2 || !strings.Contains(out, "request id req-") ||
				!strings.Contains(out, "\n[end_turn]") && !strings.Contains(out, "\n[max_tokens]") {
				t.Errorf("examples/converse.mjs printed %q: want two EU regions, a request id and a stop reason", out)
			}
		})
	}
}

// runNode runs node with args in this directory and env, and returns its
// combined output.
func runNode(t *testing.T, nodeBin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("node %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// TestDocsShowTheExample: docs/bedrock.md shows examples/converse.mjs,
// which TestBedrockRuntimeJavaScriptSDK runs, as it is.
func TestDocsShowTheExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("examples", "converse.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "bedrock.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, example) {
		t.Errorf("docs/bedrock.md does not show clients/js/examples/converse.mjs as it is (fix: copy the file into its js code block)")
	}
}

// demoEndpoint is the endpoint README.md's example names: the demo's
// eu-west-1.
const demoEndpoint = "http://127.0.0.1:8082"

// readmeExample returns the JavaScript example of README.md.
func readmeExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```js\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(code, demoEndpoint) {
		t.Fatalf("README.md has no js code block naming %s", demoEndpoint)
	}
	return code
}

// startCluster starts eu-west-1, eu-central-1 and us-east-1 on loopback
// with mock backends. eu-west-1 is the entry: its client listener serves
// TLS when useTLS is set (caFile is then the CA that signed it), and its
// demo.throttled deployment answers 429. It returns eu-west-1's endpoint
// and an API key of the principal whose access key the checks use.
func startCluster(t *testing.T, useTLS bool) (endpoint, caFile, apiKey string) {
	t.Helper()
	regions := []struct{ id, geo string }{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"us-east-1", "us"}}
	var entryTLS string
	if useTLS {
		dir := t.TempDir()
		var certFile, keyFile string
		caFile, certFile, keyFile = writeServingCert(t, dir)
		entryTLS = fmt.Sprintf(", tls: {cert_file: %q, key_file: %q}", certFile, keyFile)
	}
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\naudit: {dir: %q}\nlink: {insecure_dev_link: true, load_interval: 200ms}\n", t.TempDir())
	y.WriteString("geographies:\n  us: {name: US}\n  eu: {name: EU}\nregions:\n")
	lns := map[string][2]net.Listener{}
	for i, r := range regions {
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ll, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[r.id] = [2]net.Listener{cl, ll}
		extra := ""
		if i == 0 {
			extra = entryTLS
		}
		fmt.Fprintf(&y, "  - {id: %s, geography: %s, location: {lat: %d, lon: %d}, listen: %q, link: %q%s}\n", r.id, r.geo, 10*i, 10*i, cl.Addr(), ll.Addr(), extra)
	}
	y.WriteString("models:\n  - {id: demo.chat-small}\n  - {id: demo.throttled}\n  - {id: demo.embed}\ndeployments:\n")
	for _, r := range regions {
		// As in the demo: the chat model does not embed, demo.embed does.
		fmt.Fprintf(&y, "  - {model: demo.chat-small, region: %s, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}, capabilities: [chat, tools, vision, json_schema, reasoning, n, logprobs, documents, prompt_caching]}\n", r.id)
		fmt.Fprintf(&y, "  - {model: demo.embed, region: %s, backend: {type: mock}, capabilities: [embeddings]}\n", r.id)
	}
	fmt.Fprintf(&y, "  - {model: demo.throttled, region: %s, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}\n", regions[0].id)
	apiKey, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&y, "principals:\n  - {id: js-check, api_keys: [%q], access_keys: [{id: %s, secret_env: %s}]}\n", auth.HashKey(apiKey), accessKeyID, secretEnv)
	cfg, err := topology.Parse([]byte(y.String()), "cluster.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, y.String())
	}
	getenv := func(k string) string {
		if k == secretEnv {
			return secret
		}
		return ""
	}
	nodes := map[string]*node.Node{}
	for _, r := range regions {
		nodes[r.id] = nodetest.Start(t, node.Options{Config: cfg, Region: r.id, ClientListener: lns[r.id][0], LinkListener: lns[r.id][1],
			Dev: true, Getenv: getenv, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	}
	nodes["eu-west-1"].Backends()["demo.throttled"].(*backend.Mock).Server().SetThrottled(7 * time.Second)
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	return scheme + "://" + nodes["eu-west-1"].ClientAddr(), caFile, apiKey
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// writeServingCert writes a test CA and a certificate it signed for
// 127.0.0.1, and returns their files.
func writeServingCert(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meridian js check CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for name, b := range map[string][]byte{
		caFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}
