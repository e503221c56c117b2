package topology

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// base is a small valid topology; cases below break one thing each.
const base = `
partition: aws
account: "111122223333"
geographies:
  us: { name: United States }
  eu: { name: European Union }
regions:
  - id: us-east-1
    geography: us
    location: { lat: 38.9, lon: -77.4 }
    listen: 127.0.0.1:8081
    link: 127.0.0.1:9081
  - id: eu-west-1
    geography: eu
    location: { lat: 53.3, lon: -6.3 }
    listen: 127.0.0.1:8083
    link: 127.0.0.1:9083
models:
  - id: demo.chat-small
deployments:
  - model: demo.chat-small
    region: us-east-1
    backend: { type: openai, url: "http://127.0.0.1:7101/v1", model: chat-small, api_key_env: US_KEY }
    capacity: { max_concurrency: 16, rpm: 1200, tpm: 400000 }
  - model: demo.chat-small
    region: eu-west-1
    backend: { type: mock }
    capacity: { max_concurrency: 8 }
profiles:
  application:
    - id: claims-eu
      copy_from: eu.demo.chat-small
      tags: { team: claims }
principals:
  - id: claims-service
    api_keys: ["sha256:3b9c358f36f6e1f4d3f1c1f3f2a1e0b7c7c5d2c6b8b4e5f6a7b8c9d0e1f2a3b4"]
    policies: [invoke-eu-only]
policies:
  invoke-eu-only:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: bedrock:InvokeModel
        Resource: "*"
`

func TestParseExample(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatalf("Load(example) = %v, want nil", err)
	}
	if got := len(c.Regions); got != 4 {
		t.Errorf("regions = %d, want 4", got)
	}
	if got := c.Deployments[3].Backend.Type; got != BackendBedrock {
		t.Errorf("deployments[3].backend.type = %q, want bedrock", got)
	}
	if got := string(c.Policies["invoke-eu-only"].JSON); !strings.Contains(got, `"Version":"2012-10-17"`) {
		t.Errorf("policy JSON = %s, want the version kept as a string", got)
	}
	if got := c.Deployments[0].Capacity.Concurrency(); got != 16 {
		t.Errorf("capacity = %d, want 16", got)
	}
}

func TestParseBase(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte(base), "base.yaml"); err != nil {
		t.Fatalf("Parse(base) = %v", err)
	}
}

func TestValidationProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		old, new  string // replace old with new in base
		field     string // the problem's field path
		msg, hint string // substrings of the message and hint
		line      int    // expected line, when checked
	}{
		{name: "unknown geography", old: "geography: eu\n", new: "geography: europe\n",
			field: "regions[1].geography", msg: `"europe" is not a defined geography`, hint: "eu, us", line: 14},
		{name: "duplicate region id", old: "id: eu-west-1", new: "id: us-east-1",
			field: "regions[1].id", msg: `duplicate region id "us-east-1"`},
		{name: "duplicate listen address", old: "listen: 127.0.0.1:8083", new: "listen: 127.0.0.1:8081",
			field: "regions[1].listen", msg: "already used by regions[0].listen"},
		{name: "link equals a listen address", old: "link: 127.0.0.1:9083", new: "link: 127.0.0.1:8081",
			field: "regions[1].link", msg: "already used by regions[0].listen"},
		{name: "deployment in unknown region", old: "region: eu-west-1", new: "region: eu-north-9",
			field: "deployments[1].region", msg: `"eu-north-9" is not a defined region`},
		{name: "deployment of unknown model", old: "  - model: demo.chat-small\n    region: eu-west-1", new: "  - model: demo.chat-huge\n    region: eu-west-1",
			field: "deployments[1].model", msg: `"demo.chat-huge" is not a defined model`},
		{name: "model with no deployment", old: "  - id: demo.chat-small\n", new: "  - id: demo.chat-small\n  - id: demo.unused\n",
			field: "models[1]", msg: `model "demo.unused" has no deployment`},
		{name: "application profile copies unknown source", old: "copy_from: eu.demo.chat-small", new: "copy_from: apac.demo.chat-small",
			field: "profiles.application[0].copy_from", msg: "is not a system profile or deployed model"},
		{name: "zero capacity", old: "capacity: { max_concurrency: 8 }", new: "capacity: { max_concurrency: 0 }",
			field: "deployments[1].capacity.max_concurrency", msg: "capacity must be positive, got 0"},
		{name: "negative capacity", old: "rpm: 1200", new: "rpm: -5",
			field: "deployments[0].capacity.rpm", msg: "capacity must be positive, got -5"},
		{name: "openai backend without url", old: `type: openai, url: "http://127.0.0.1:7101/v1", `, new: "type: openai, ",
			field: "deployments[0].backend.url", msg: "needs a url"},
		{name: "openai backend url without a path", old: `url: "http://127.0.0.1:7101/v1"`, new: `url: "http://127.0.0.1:7101"`,
			field: "deployments[0].backend.url", msg: `"http://127.0.0.1:7101" has no path: requests would go to http://127.0.0.1:7101/chat/completions`, hint: `use "http://127.0.0.1:7101/v1"`, line: 23},
		{name: "openai backend url of root", old: `url: "http://127.0.0.1:7101/v1"`, new: `url: "http://127.0.0.1:7101/"`,
			field: "deployments[0].backend.url", msg: "has no path", hint: `use "http://127.0.0.1:7101/v1"`},
		{name: "openai backend url of an endpoint", old: `url: "http://127.0.0.1:7101/v1"`, new: `url: "http://127.0.0.1:7101/v1/chat/completions"`,
			field: "deployments[0].backend.url", msg: "names an endpoint, not the base URL", hint: `use the base URL "http://127.0.0.1:7101/v1"`},
		{name: "openai backend without model", old: "model: chat-small, ", new: "",
			field: "deployments[0].backend.model", msg: "needs a model"},
		{name: "bedrock backend without region", old: "backend: { type: mock }", new: "backend: { type: bedrock, model: x }",
			field: "deployments[1].backend.aws_region", msg: "needs aws_region"},
		{name: "unknown backend type", old: "backend: { type: mock }", new: "backend: { type: tgi }",
			field: "deployments[1].backend.type", msg: `"tgi" is not a backend type`},
		{name: "unknown field", old: "  - id: eu-west-1\n", new: "  - id: eu-west-1\n    zone: a\n",
			field: "regions[1].zone", msg: `unknown field "zone"`, hint: "geography, id, link, listen, location, tls"},
		{name: "plain api key instead of hash", old: `"sha256:3b9c358f36f6e1f4d3f1c1f3f2a1e0b7c7c5d2c6b8b4e5f6a7b8c9d0e1f2a3b4"`, new: `"mk-secret"`,
			field: "principals[0].api_keys[0]", msg: "not a sha256:<hex> key hash", hint: "meridian keys hash"},
		{name: "two principals named alike", old: "    policies: [invoke-eu-only]\n", new: "    policies: [invoke-eu-only]\n  - id: batch\n    username: Claims-Service\n",
			field: "principals[1].username", msg: `principals[0] has the same name`, hint: "different usernames"},
		{name: "undefined policy", old: "policies: [invoke-eu-only]", new: "policies: [nope]",
			field: "principals[0].policies[0]", msg: `policy "nope" is not defined`},
		{name: "secret in env name", old: "api_key_env: US_KEY", new: "api_key_env: sk-live-123",
			field: "deployments[0].backend.api_key_env", msg: "is not an environment variable name"},
		{name: "bad account", old: `account: "111122223333"`, new: `account: "1234"`,
			field: "account", msg: "not a 12-digit account id"},
		{name: "global is reserved", old: "  eu: { name: European Union }", new: "  eu: { name: European Union }\n  global: { name: Everywhere }",
			field: "geographies.global", msg: "is reserved"},
		{name: "bad routing strategy", old: "policies:\n  invoke", new: "routing: { strategy: fastest }\npolicies:\n  invoke",
			field: "routing.strategy", msg: `"fastest" is not a routing strategy`},
		{name: "bad quota store", old: "policies:\n  invoke", new: "quota: { store: etcd }\npolicies:\n  invoke",
			field: "quota.store", msg: `"etcd" is not a quota store`},
		{name: "quota cluster prefix with braces", old: "policies:\n  invoke", new: "quota: { store: redis, redis: { url: \"redis://10.0.0.5:6379\", cluster: true, key_prefix: \"{eu}\" } }\npolicies:\n  invoke",
			field: "quota.redis.key_prefix", msg: "contains a brace"},
		{name: "negative first-byte time-out", old: "backend: { type: mock }", new: "backend: { type: mock, first_byte_timeout: -1s }",
			field: "deployments[1].backend.first_byte_timeout", msg: "must not be negative, got -1s"},
		{name: "negative stream idle time-out", old: "backend: { type: mock }", new: "backend: { type: mock, stream_idle_timeout: -1s }",
			field: "deployments[1].backend.stream_idle_timeout", msg: "must not be negative, got -1s"},
		{name: "sigv4 skew beyond 15m", old: "policies:\n  invoke", new: "server: { sigv4: { max_skew: 1h } }\npolicies:\n  invoke",
			field: "server.sigv4.max_skew", msg: "1h0m0s is not an accepted clock-skew window", hint: "between 1s and 15m"},
		{name: "sigv4 skew below a second", old: "policies:\n  invoke", new: "server: { sigv4: { max_skew: 10ms } }\npolicies:\n  invoke",
			field: "server.sigv4.max_skew", msg: "is not an accepted clock-skew window"},
		{name: "invalid policy names the statement", old: "      - Effect: Allow\n", new: "      - Effect: Permit\n",
			field: "policies.invoke-eu-only", msg: "Statement[0]"},
		{name: "per-source destination leaves the geography", old: "profiles:\n", new: "profiles:\n  system:\n    eu.demo.chat-small:\n      sources:\n        eu-west-1: [eu-west-1, us-east-1]\n",
			field: "profiles.system.eu.demo.chat-small.sources.eu-west-1[1]", msg: "destination us-east-1 is in geography us, outside geography eu", hint: "out of it"},
		{name: "per-source source outside the geography", old: "profiles:\n", new: "profiles:\n  system:\n    eu.demo.chat-small:\n      sources:\n        us-east-1: [eu-west-1]\n",
			field: "profiles.system.eu.demo.chat-small.sources.us-east-1", msg: "source us-east-1 is in geography us, outside geography eu"},
		{name: "per-source unknown destination", old: "profiles:\n", new: "profiles:\n  system:\n    us.demo.chat-small:\n      sources:\n        us-east-1: [us-east-9]\n",
			field: "profiles.system.us.demo.chat-small.sources.us-east-1[0]", msg: `destination "us-east-9" is not a defined region`},
		{name: "per-source unknown profile", old: "profiles:\n", new: "profiles:\n  system:\n    us.demo.chat-huge:\n      sources:\n        us-east-1: [us-east-1]\n",
			field: "profiles.system.us.demo.chat-huge", msg: "is not a system profile of this topology", hint: "profiles list"},
		{name: "per-source empty set", old: "profiles:\n", new: "profiles:\n  system:\n    us.demo.chat-small:\n      sources:\n        us-east-1: []\n",
			field: "profiles.system.us.demo.chat-small.sources.us-east-1", msg: "no destinations"},
		{name: "unknown authorization mode", old: "policies:\n  invoke", new: "authorization: any\npolicies:\n  invoke",
			field: "authorization", msg: `"any" is not an authorization mode`, hint: "all-destinations"},
		{name: "misspelt action", old: "Action: bedrock:InvokeModel\n", new: "Action: bedrock:InvokeModell\n",
			field: "policies.invoke-eu-only", msg: `Statement[0].Action: "bedrock:InvokeModell" is not an IAM action of Amazon Bedrock; did you mean "bedrock:InvokeModel"?`, hint: "bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream"},
		{name: "misspelt action in an inline guardrail", old: "policies:\n  invoke", new: "guardrails:\n  - {name: g, policy: {Statement: [{Effect: Deny, NotAction: [bedrock:InvokeModelWithResponseStrem], Resource: \"*\"}]}}\npolicies:\n  invoke",
			field: "guardrails[0].policy", msg: `did you mean "bedrock:InvokeModelWithResponseStream"?`, hint: "docs/policies.md#actions"},
		{name: "wildcard matching no action", old: "Action: bedrock:InvokeModel\n", new: "Action: bedrock:Converse*\n",
			field: "policies.invoke-eu-only", msg: "(the wildcard matches none)", hint: "bedrock:InvokeModel*"},
		{name: "Converse is no IAM action", old: "Action: bedrock:InvokeModel\n", new: "Action: [bedrock:InvokeModel, bedrock:Converse]\n",
			field: "policies.invoke-eu-only", msg: "Bedrock authorizes it as bedrock:InvokeModel", hint: "docs/policies.md#actions"},
		{name: "misspelt service prefix", old: "Action: bedrock:InvokeModel\n", new: "Action: bedrok:InvokeModel\n",
			field: "policies.invoke-eu-only", msg: `"bedrok" is not a service prefix; did you mean "bedrock:InvokeModel"?`, hint: "docs/policies.md#actions"},
		{name: "invalid yaml", old: "  us: { name: United States }", new: "  us: { name: United States",
			msg: "invalid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(base, tc.old) {
				t.Fatalf("test bug: %q not in base", tc.old)
			}
			in := strings.Replace(base, tc.old, tc.new, 1)
			_, err := Parse([]byte(in), "topo.yaml")
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse() error = %v, want *ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.File != "topo.yaml" {
					t.Errorf("problem %v does not name the file", p)
				}
				if (tc.field == "" || p.Field == tc.field) && strings.Contains(p.Msg, tc.msg) {
					if !strings.Contains(p.Hint, tc.hint) {
						t.Errorf("hint = %q, want it to contain %q", p.Hint, tc.hint)
					}
					if p.Hint == "" {
						t.Errorf("problem %v has no fix", p)
					}
					if tc.line != 0 && p.Line != tc.line {
						t.Errorf("line = %d, want %d", p.Line, tc.line)
					}
					if p.Line == 0 && tc.field != "" {
						t.Errorf("problem %v has no line", p)
					}
					return
				}
			}
			t.Errorf("Parse() problems:\n%v\nwant one at %q containing %q", err, tc.field, tc.msg)
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	t.Parallel()
	in := strings.NewReplacer("geography: eu\n", "geography: europe\n", "rpm: 1200", "rpm: 0", "copy_from: eu.demo.chat-small", "copy_from: nope").Replace(base)
	_, err := Parse([]byte(in), "topo.yaml")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse() = %v, want *ValidationError", err)
	}
	if len(ve.Problems) < 3 {
		t.Errorf("got %d problems, want all 3 reported at once:\n%v", len(ve.Problems), err)
	}
}

func TestGuardrailForms(t *testing.T) {
	t.Parallel()
	in := strings.Replace(base, "policies:\n  invoke", `guardrails:
  - invoke-eu-only
  - name: eu-only
    policy: { Version: "2012-10-17", Statement: [{ Effect: Deny, Action: "*", Resource: "*" }] }
policies:
  invoke`, 1)
	c, err := Parse([]byte(in), "topo.yaml")
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if len(c.Guardrails) != 2 || c.Guardrails[0].Name != "invoke-eu-only" || c.Guardrails[1].Policy == nil {
		t.Fatalf("guardrails = %+v, want a named and an inline one", c.Guardrails)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("regions: [{id: a}]"))
	f.Add([]byte("geographies: {eu: {global: false}}\n"))
	f.Add([]byte("policies: {p: '{\"Statement\": []}'}"))
	f.Add([]byte("routing: {failover_deadline: 5, queue: {timeout: [1]}}\nserver: {max_request_bytes: 5GB}\nguardrails: [[x], {name: g, scope: y}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %v is not a ValidationError with problems", err)
			}
		}
	})
}

// TestUnknownFieldsDoNotStopValidation: an unknown field is reported with
// its full path, and every other problem of the file in the same run.
func TestUnknownFieldsDoNotStopValidation(t *testing.T) {
	t.Parallel()
	const file = `account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2", bogus: 1}
models: [{id: demo.chat-small, colour: red}]
deployments:
  - {model: demo.chat-small, region: eu-west-9, backend: {type: mock}}
routing: {max_attempts: 0}
link: {insecure_dev_link: true}
`
	_, err := Parse([]byte(file), "t.yaml")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse = %v, want a *ValidationError", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Field)
	}
	want := []string{"regions[0].bogus", "models[0].colour", "deployments[0].region", "routing.max_attempts"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("problem fields = %q, want %q\n%v", got, want, err)
	}
}

// TestOpenAIBaseURLs: an openai backend's base URL is what the backend
// appends /chat/completions to; /v1 and other API roots pass.
func TestOpenAIBaseURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:7101/v1", "http://127.0.0.1:7101/v1/", "https://openrouter.ai/api/v1", "https://generativelanguage.googleapis.com/v1beta/openai/"} {
		in := strings.Replace(base, `url: "http://127.0.0.1:7101/v1"`, fmt.Sprintf("url: %q", u), 1)
		if _, err := Parse([]byte(in), "topo.yaml"); err != nil {
			t.Errorf("url %s: %v", u, err)
		}
	}
}
