package docs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/demo"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// quoted is one message a doc quotes, and how to make the program say it.
type quoted struct {
	file  string // relative to docs/
	quote string // exactly as in the file
	// produce returns the program's real message (or output).
	produce func(t *testing.T) string
	// json compares the quote and the output as JSON values (the doc lays
	// an object out more compactly than the command's indentation).
	json bool
}

// TestQuotedMessages: every error message (and command output) the docs
// quote is what the program prints. Two messages quoted in policies.md had
// drifted from the real ones. In a quote, "…" stands for elided text (a
// hash, a file name) and ":N:" line numbers are not compared, since they
// depend on the file the reader validates.
func TestQuotedMessages(t *testing.T) {
	t.Parallel()
	tests := []quoted{
		{"policies.md", `config.yaml:8: policies.invoke-eu-only: policy "invoke-eu-only": Statement[1] (Sid "Models").Condition.StringEqualz.aws:RequestedRegion: unknown condition operator "StringEqualz" (fix: fix the statement as described; docs/policies.md lists the grammar)`,
			configProblem(badPolicyConfig, "StringEqualz"), false},
		{"policies.md", `config.yaml:8: policies.invoke-eu-only: policy "invoke-eu-only": Statement[1] (Sid "Models").Effect: "Alow" is not "Allow" or "Deny" (fix: fix the statement as described; docs/policies.md lists the grammar)`,
			configProblem(badPolicyConfig, `"Alow"`), false},
		{"policies.md", `config.yaml:12: policies.invoke-eu-only: policy "invoke-eu-only": Statement[0].Action[0]: "bedrock:InvokeModell" is not an IAM action of Amazon Bedrock; did you mean "bedrock:InvokeModel"? (fix: name a Bedrock action: Meridian authorizes … (wildcards allowed, e.g. bedrock:InvokeModel*); docs/policies.md#actions)`,
			configProblem(actionsConfig(`[bedrock:InvokeModell]`), "InvokeModell"), false},
		{"policies.md", `config.yaml:16: policies.inference-profiles: note: policy "inference-profiles": Statement[1].Action[4]: "bedrock:UntagResource" is a Bedrock action Meridian never authorizes: it allows or denies nothing here (see docs/policies.md#actions)`,
			configNote(actionsConfig(`[bedrock:InvokeModel]`), "UntagResource"), false},
		{"policies.md", `not authorized to perform bedrock:InvokeModel on resource arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small`,
			modelDenial, false},
		{"policies.md", policySimulateJSON(t), policySimulate, true},
		{"policies.md", `not authorized to perform bedrock:ListInferenceProfiles on arn:aws:bedrock:eu-west-1:111122223333:inference-profile/*`,
			listDenial, false},
		{"../README.md", `inference profile not callable from this region: us.demo.chat-small is a us profile and can only be invoked from a source region in geography us (us-east-1, us-west-2); eu-west-1 is in geography eu`,
			demoRefusal, false},
		{"configuration.md", `topology.yaml:14: regions[1].geography: "europe" is not a defined geography (fix: use one of the defined geographies (eu, us) or define it under geographies)`,
			configProblem(badTopologyConfig, `"europe"`), false},
		{"configuration.md", `topology.yaml:31: deployments[1].capacity.max_concurrency: capacity must be positive, got 0 (fix: use a positive number, or leave the field out for no limit)`,
			configProblem(badTopologyConfig, "max_concurrency"), false},
		{"configuration.md", `topology.yaml:20: regions[1].tls: the client listener's TLS files cannot be loaded: read certificate: open server.crt: no such file or directory; open server.key: no such file or directory (fix: point cert_file and key_file (and client_ca_file) at readable PEM files)`,
			checkedProblem(everyProblemConfig, "regions[1].tls"), false},
		{"configuration.md", `topology.yaml:36: deployments[1].backend.ttft: "5" is not a duration (fix: give it a unit: "5s" (seconds) or "5ms" (milliseconds))`,
			checkedProblem(everyProblemConfig, "ttft"), false},
		{"configuration.md", `topology.yaml:58: server.max_request_bytes: "5GB" is not a whole number (fix: write the size in bytes, without a unit: 5 GiB is 5368709120)`,
			checkedProblem(everyProblemConfig, "max_request_bytes"), false},
		{"configuration.md", `topology.yaml:63: principals[0].receipt: unknown field "receipt" (fix: did you mean "receipts"? otherwise remove it (fields: access_keys, api_keys, client_cert_subjects, id, limits, policies, receipts, tags, username, viewer))`,
			checkedProblem(everyProblemConfig, "receipt"), false},
		{"audit.md", `edited event: hash does not match the line: computed a1b2…, line says f711…`, editedEvent, false},
	}
	for _, tc := range tests {
		doc, err := os.ReadFile(filepath.Join(".", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, []byte(tc.quote)) {
			t.Errorf("%s no longer quotes %q: update this table with the doc", tc.file, tc.quote)
			continue
		}
		got := tc.produce(t)
		if tc.json {
			tc.quote, got = compactJSON(t, tc.quote), compactJSON(t, got)
		}
		if !quoteMatches(tc.quote, got) {
			t.Errorf("%s quotes\n  %s\nthe program says\n  %s", tc.file, tc.quote, got)
		}
	}
}

// messageLike finds lines and spans in the docs that quote an error
// message: validation problems ("file.yaml:N: field: ...") and 403s.
var messageLike = regexp.MustCompile("(?m)^[\\w.-]+\\.yaml:[0-9]+: .*$|not authorized to perform [^`\n]*")

// TestEveryQuotedMessageIsChecked: a message quoted in a doc but missing
// from TestQuotedMessages' table would go stale unnoticed.
func TestEveryQuotedMessageIsChecked(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("quoted_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range messageLike.FindAll(b, -1) {
			if !bytes.Contains(src, m) {
				t.Errorf("%s quotes %q, which TestQuotedMessages does not check: add it to the table", f, m)
			}
		}
	}
}

var lineNumber = regexp.MustCompile(`^([^ :]+):[0-9]+: `)

// quoteMatches compares a quote with the real text: "…" (with any hex
// digits before it) matches anything, and the file's name and line number
// at the start are not compared.
func quoteMatches(quote, real string) bool {
	quote, real = lineNumber.ReplaceAllString(quote, ""), lineNumber.ReplaceAllString(real, "")
	parts := regexp.MustCompile(`[0-9a-f]*…`).Split(quote, -1)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`^(?s)` + strings.Join(parts, ".*?") + `$`).MatchString(real)
}

const badPolicyConfig = `account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
link: { insecure_dev_link: true }
policies:
  invoke-eu-only:
    Version: "2012-10-17"
    Statement:
      - { Sid: Profiles, Effect: Allow, Action: "bedrock:InvokeModel", Resource: "*" }
      - Sid: Models
        Effect: Alow
        Action: "bedrock:InvokeModel"
        Resource: "*"
        Condition: { StringEqualz: { "aws:RequestedRegion": eu-west-1 } }
`

const badTopologyConfig = `account: "111122223333"
geographies: { eu: { name: EU }, us: { name: US } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: europe, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
models: [ { id: m } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 0 } }
link: { insecure_dev_link: true }
`

// everyProblemConfig has a problem of each kind configuration.md shows
// in one run of config validate: a decode problem (a duration without a
// unit, a size with one, an unknown field) and a file the node would load.
const everyProblemConfig = `account: "111122223333"
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:3", link: "127.0.0.1:4", tls: { cert_file: server.crt, key_file: server.key } }
models: [ { id: m } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: eu-west-1, backend: { type: mock, ttft: 5 } }
link: { insecure_dev_link: true }
server: { max_request_bytes: 5GB }
principals: [ { id: p, receipt: true } ]
`

// checkedProblem returns the problem containing substr that config
// validate reports for yaml: the topology's own problems and those of the
// files it names, merged as cmd/meridian/config.go merges them.
func checkedProblem(yaml, substr string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		cfg, problems := topology.Check([]byte(yaml), "topology.yaml")
		if cfg == nil {
			t.Fatalf("Check = %v, want a config with problems", problems)
		}
		problems = cfg.MergeProblems(problems, node.CheckFiles(cfg))
		for _, p := range problems {
			if strings.Contains(p.Error(), substr) {
				return p.Error()
			}
		}
		t.Fatalf("no problem mentions %q in %v", substr, problems)
		return ""
	}
}

// configProblem returns the validation problem of yaml (as file
// config.yaml) that contains substr.
func configProblem(yaml, substr string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		_, err := topology.Parse([]byte(yaml), "config.yaml")
		var ve *topology.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("Parse = %v, want validation problems", err)
		}
		for _, p := range ve.Problems {
			if strings.Contains(p.Error(), substr) {
				return p.Error()
			}
		}
		t.Fatalf("no problem mentions %q in %v", substr, err)
		return ""
	}
}

// actionsConfig is a topology whose policy invoke-eu-only has the given
// Action list, next to the inference-profile policy of AWS's Bedrock user
// guide (docs/policies.md#actions).
func actionsConfig(actions string) string {
	return `account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
link: { insecure_dev_link: true }
policies:
  invoke-eu-only:
    Statement: [ { Effect: Allow, Action: ` + actions + `, Resource: "*" } ]
  inference-profiles:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: [bedrock:InvokeModel*, bedrock:CreateInferenceProfile]
        Resource: [ "arn:aws:bedrock:*::foundation-model/*", "arn:aws:bedrock:*:*:inference-profile/*", "arn:aws:bedrock:*:*:application-inference-profile/*" ]
      - Effect: Allow
        Action: [bedrock:GetInferenceProfile, bedrock:ListInferenceProfiles, bedrock:DeleteInferenceProfile, bedrock:TagResource, bedrock:UntagResource, bedrock:ListTagsForResource]
        Resource: [ "arn:aws:bedrock:*:*:inference-profile/*", "arn:aws:bedrock:*:*:application-inference-profile/*" ]
`
}

// configNote returns the note (topology.Config.Notes) of a valid yaml
// that contains substr.
func configNote(yaml, substr string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		cfg, err := topology.Parse([]byte(yaml), "config.yaml")
		if err != nil {
			t.Fatalf("Parse = %v, want a valid file", err)
		}
		for _, n := range cfg.Notes() {
			if strings.Contains(n.Error(), substr) {
				return n.Error()
			}
		}
		t.Fatalf("no note mentions %q in %v", substr, cfg.Notes())
		return ""
	}
}

// modelDenial is the 403 message of policies.md's example: a caller
// allowed a profile but not the model in us-east-1.
func modelDenial(t *testing.T) string {
	cfg := demoConfig(t, `
principals: [ { id: p, policies: [eu-models] } ]
policies:
  eu-models:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:InvokeModel", Resource: "arn:aws:bedrock:*:111122223333:inference-profile/*" }
      - { Effect: Allow, Action: "bedrock:InvokeModel", Resource: "arn:aws:bedrock:eu-*::foundation-model/*" }
`)
	return invokeError(t, cfg, "p", "us-east-1", "us.demo.chat-small")
}

// demoRefusal is the README's refusal of a us. profile in eu-west-1.
func demoRefusal(t *testing.T) string {
	return invokeError(t, demoConfig(t, ""), "demo-user", "eu-west-1", "us.demo.chat-small")
}

// demoConfig returns the demo's topology (what README and docs call "the
// demo"), with extra YAML replacing its principals and policies when set.
func demoConfig(t *testing.T, extra string) *topology.Config {
	t.Helper()
	y, _, err := demo.Topology(demo.TopologyOptions{BasePort: 20000, KeyHash: "sha256:" + strings.Repeat("0", 64), AccessKeyID: "AKIAMERIDIANEXAMPLE"})
	if err != nil {
		t.Fatal(err)
	}
	if extra != "" {
		s := string(y)
		i := strings.Index(s, "\nprincipals:")
		j := strings.Index(s, "\nlink:")
		if i < 0 || j < i {
			t.Fatal("demo topology: principals section not found")
		}
		y = []byte(s[:i] + extra + s[j:])
	}
	cfg, err := topology.Parse(y, "demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// invokeError calls model as principal in region through the gateway and
// returns the client's error message.
func invokeError(t *testing.T, cfg *topology.Config, principal, region, model string) string {
	t.Helper()
	authz, err := gateway.NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var a gateway.Authorizer = gateway.AllowAll{}
	if authz != nil {
		a = authz
	}
	g, err := gateway.New(gateway.Options{Region: region, Config: cfg, Authorizer: a})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := authn.Principal(principal)
	if !ok {
		t.Fatalf("principal %q missing", principal)
	}
	_, err = g.Invoke(t.Context(), &gateway.Call{RequestID: "r", Operation: gateway.OpChatCompletions, Principal: p,
		Request: &inference.Request{Model: model}, Received: time.Unix(0, 0)})
	if err == nil {
		t.Fatalf("%s invoking %s in %s was served", principal, model, region)
	}
	return inference.AsError(err).Message
}

// policySimulateJSON is the `policy simulate --output json` block quoted in
// policies.md.
func policySimulateJSON(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("policies.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)`--output json` prints one object:\n\n```json\n(.*?\n)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("policies.md: the --output json example is gone")
	}
	return string(m[1])
}

// policySimulate runs the example of policies.md: the eu-only guardrail
// shown there, and a call to the model in us-east-1.
func policySimulate(t *testing.T) string {
	b, err := os.ReadFile("policies.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(\\{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": \\[\n    \\{ \"Sid\": \"FullAccess\".*?\n)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("policies.md: the eu-only guardrail example is gone")
	}
	rep, err := policy.Simulate(policy.SimulateInput{Guardrails: []policy.Document{{Name: "eu-only", JSON: m[1]}},
		Action: "bedrock:InvokeModel", Resource: "arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small",
		Context: map[string][]string{"aws:RequestedRegion": {"us-east-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	return simulateJSON(t, rep)
}

// editedEvent is what verify reports for an event whose bytes were edited.
func editedEvent(t *testing.T) string {
	t.Helper()
	src := "../internal/audit/testdata/verify/v1/eu-west-1"
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(src, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("audit fixture %s: %v", src, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, "00000000000000000005.jsonl") {
			b = bytes.Replace(b, []byte(`"statusCode":200`), []byte(`"statusCode":201`), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = audit.Verify(dir)
	var te *audit.TamperError
	if !errors.As(err, &te) {
		t.Fatalf("Verify(edited log) = %v, want a tamper error", err)
	}
	return te.Kind.String() + ": " + te.Detail
}

func simulateJSON(t *testing.T, rep *policy.Report) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return buf.String()
}

// listDenial is the 403 of a ListInferenceProfiles call: the action is
// checked on the source region's inference-profile/* ARN (the Bedrock front
// end's ControlInput.Resource), not on "*".
func listDenial(t *testing.T) string {
	cfg := demoConfig(t, `
principals: [ { id: p, policies: [list-eu] } ]
policies:
  list-eu:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "arn:aws:bedrock:us-*:111122223333:inference-profile/*" }
`)
	authz, err := gateway.NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	authn, _ := auth.New(cfg)
	p, _ := authn.Principal("p")
	list := func(region string) error {
		return authz.Decide(gateway.AuthzInput{Principal: p, Source: region, Now: time.Now()}, policy.ActionListInferenceProfiles,
			profile.ProfileARN(cfg.PartitionOrDefault(), region, cfg.Account, "*"))
	}
	if err := list("us-east-1"); err != nil {
		t.Errorf("ListInferenceProfiles in us-east-1 allowed by inference-profile/* was refused: %v", err)
	}
	err = list("eu-west-1")
	if err == nil {
		t.Fatal("ListInferenceProfiles in eu-west-1 was allowed")
	}
	return inference.AsError(err).Message
}
