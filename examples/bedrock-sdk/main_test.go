package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestDoneWhen runs this program against two EU Meridian nodes on loopback
// (the Bedrock API's promise): only the endpoint and credentials differ from a
// program that calls Amazon Bedrock.
func TestDoneWhen(t *testing.T) {
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	os.Unsetenv("AWS_BEARER_TOKEN_BEDROCK")
	t.Setenv("AWS_MAX_ATTEMPTS", "1") // show the throttle instead of retrying it
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	auditDir := t.TempDir()
	regions := []string{"eu-west-1", "eu-central-1"}
	lns := map[string][2]net.Listener{}
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\naudit: {dir: %q}\nserver: {data_dir: %q}\nlink: {insecure_dev_link: true}\ngeographies: {eu: {name: EU}}\nregions:\n", auditDir, t.TempDir())
	for i, r := range regions {
		cl, _ := net.Listen("tcp", "127.0.0.1:0")
		ll, _ := net.Listen("tcp", "127.0.0.1:0")
		lns[r] = [2]net.Listener{cl, ll}
		fmt.Fprintf(&y, "  - {id: %s, geography: eu, location: {lat: %d, lon: 0}, listen: %q, link: %q}\n", r, 50+i, cl.Addr(), ll.Addr())
	}
	y.WriteString(`models: [{id: demo.chat-small}, {id: demo.busy}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.busy, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
principals:
  - {id: app, access_keys: [{id: AKIDAPP, secret_env: APP_SECRET}], policies: [all]}
  - {id: intern, access_keys: [{id: AKIDINTERN, secret_env: INTERN_SECRET}], policies: [list-only]}
policies:
  all: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "bedrock:*", Resource: "*"}]}
  list-only: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*"}]}
`)
	cfg, err := topology.Parse([]byte(y.String()), "done-when.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"APP_SECRET": "app-secret", "INTERN_SECRET": "intern-secret"}
	nodes := map[string]*node.Node{}
	stop := func(r string) {
		if n := nodes[r]; n != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Shutdown(ctx)
			delete(nodes, r)
		}
	}
	for _, r := range regions {
		n, err := node.New(node.Options{Config: cfg, Region: r, ClientListener: lns[r][0], LinkListener: lns[r][1], Dev: true,
			Getenv: func(k string) string { return secrets[k] }, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		nodes[r] = n
		t.Cleanup(func() { stop(r) })
	}
	nodes["eu-west-1"].Backends()["demo.busy"].(*backend.Mock).Server().SetThrottled(5 * time.Second)

	var out strings.Builder
	res, err := run(t.Context(), options{Endpoint: "http://" + nodes["eu-west-1"].ClientAddr(), Region: "eu-west-1",
		Credentials:    credentials.NewStaticCredentialsProvider("AKIDAPP", "app-secret", ""),
		CopyFrom:       "eu.demo.chat-small",
		ThrottledModel: "demo.busy", DeniedCredentials: credentials.NewStaticCredentialsProvider("AKIDINTERN", "intern-secret", "")}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Throttled || !res.Denied || len(res.RequestIDs) != 2 || !strings.Contains(out.String(), "deleted ") {
		t.Fatalf("run = %+v, want two conversations, a throttle, a denial and a deletion", res)
	}
	for _, r := range res.InferenceRegions {
		if r != "eu-west-1" && r != "eu-central-1" {
			t.Errorf("x-meridian-inference-region = %q, want an EU region", r)
		}
	}

	// The source region's audit trail says where each conversation ran.
	stop("eu-west-1")
	stop("eu-central-1")
	events := map[string]string{}
	names := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(auditDir, "eu-west-1", "*.jsonl"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for line := range strings.SplitSeq(string(b), "\n") {
			var ev struct {
				EventID, EventName, Side, InferenceRegion string
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Side == "source" {
				events[ev.EventID] = ev.InferenceRegion
				names[ev.EventName]++
			}
		}
	}
	for i, id := range res.RequestIDs {
		if got := events[id]; got != res.InferenceRegions[i] {
			t.Errorf("audit event %s inferenceRegion = %q, want %q (header)", id, got, res.InferenceRegions[i])
		}
	}
	for _, op := range []string{"ListInferenceProfiles", "CreateInferenceProfile", "Converse", "ConverseStream", "DeleteInferenceProfile"} {
		if names[op] == 0 {
			t.Errorf("no audit event for %s (events by name: %v)", op, names)
		}
	}
}

// TestRequestBodiesEndCleanly: the program's SDK clients hand net/http
// request bodies whose last read, after their Content-Length (net/http
// makes it to check that nothing is left over, and over HTTP/1.1 the
// answer may arrive, and the SDK close the body, before it), reports the
// body's end. The SDK's own body answers it with io.EOF as an error once
// closed, which net/http takes for a failed write: it drops the
// connection, and the next call dials again. The client here reads each
// body as net/http does, the rest only after the call returned.
func TestRequestBodiesEndCleanly(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_CA_BUNDLE", "") // it would need the SDK's own client
	c := &lateBodyReader{}
	_, err := run(t.Context(), options{Endpoint: "http://bedrock.invalid", Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDAPP", "app-secret", ""),
		CopyFrom:    "eu.demo.chat-small", HTTPClient: c}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "create inference profile") {
		t.Fatalf("run = %v, want the refusal of the profile's creation", err)
	}
	if len(c.bodies) == 0 {
		t.Fatal("no request had a body")
	}
	for i, b := range c.bodies {
		if n, err := io.Copy(io.Discard, b); n != 0 || err != nil {
			t.Errorf("request body %d, read on after its length once the call returned, gave %d bytes and %v; want 0 and its end (nil)", i, n, err)
		}
	}
}

// lateBodyReader is an HTTP client that reads a request body's
// Content-Length, answers (the profile list, then a refusal), and keeps
// the body for the test to read on, as net/http's writer may do after the
// answer arrived.
type lateBodyReader struct{ bodies []io.Reader }

func (c *lateBodyReader) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, r.ContentLength)); err != nil {
			return nil, err
		}
		c.bodies = append(c.bodies, r.Body)
	}
	answer := func(status int, h http.Header, body string) (*http.Response, error) {
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	if r.Method == http.MethodGet {
		return answer(http.StatusOK, http.Header{}, `{"inferenceProfileSummaries":[{"inferenceProfileId":"eu.demo.chat-small",`+
			`"inferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small","models":[]}]}`)
	}
	return answer(http.StatusBadRequest, http.Header{"X-Amzn-Errortype": {"ValidationException"}}, `{"message":"refused"}`)
}
