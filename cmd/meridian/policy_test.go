package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicySimulateRefusesUnknownActions: the simulator refuses an action
// Meridian does not authorize, in a policy file, in a topology and as
// --action, as `config validate` and the node do, naming the nearest
// action; a typo never simulates as a plain implicitDeny.
func TestPolicySimulateRefusesUnknownActions(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(good, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`), 0o644)
	os.WriteFile(typo, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModell","Resource":"*"}}`), 0o644)
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	topo := filepath.Join(dir, "topology.yaml")
	broken := strings.Replace(string(example), `"bedrock:InvokeModel", `, `"bedrock:InvokeModell", `, 1)
	if broken == string(example) {
		t.Fatal("test bug: the example's policy action was not found")
	}
	os.WriteFile(topo, []byte(broken), 0o644)
	const arn = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"policy file", []string{"--policy", typo, "--action", "bedrock:InvokeModel", "--resource", arn}, `policy "typo": Statement[0].Action: "bedrock:InvokeModell" is not an IAM action of Amazon Bedrock; did you mean "bedrock:InvokeModel"?`},
		{"guardrail file", []string{"--policy", good, "--guardrail", typo, "--action", "bedrock:InvokeModel", "--resource", arn}, `did you mean "bedrock:InvokeModel"?`},
		{"--action", []string{"--policy", good, "--action", "bedrock:InvokeModell", "--resource", arn}, `--action: "bedrock:InvokeModell" is not an IAM action of Amazon Bedrock; did you mean "bedrock:InvokeModel"?`},
		{"--action Converse", []string{"--policy", good, "--action", "bedrock:Converse", "--resource", arn}, `Bedrock authorizes it as bedrock:InvokeModel`},
		{"--action with --config", []string{"--config", exampleConfig, "--principal", "claims-service", "--profile", "eu.demo.chat-small", "--region", "eu-west-1", "--action", "bedrock:InvokeModelWithResponseStrem"}, `did you mean "bedrock:InvokeModelWithResponseStream"?`},
		{"topology", []string{"--config", topo, "--principal", "claims-service", "--profile", "eu.demo.chat-small", "--region", "eu-west-1"}, `did you mean "bedrock:InvokeModel"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, append([]string{"policy", "simulate"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("policy simulate = %v (output %q), want an error containing %q", err, out, tc.want)
			}
		})
	}
	// The correct spelling simulates.
	if out, _, err := runCLI(t, "policy", "simulate", "--policy", good, "--action", "bedrock:InvokeModel", "--resource", arn); err != nil || !strings.Contains(out, "allow") {
		t.Errorf("policy simulate (good) = %v, %q", err, out)
	}
	// A file topology with the typo is refused by config validate too.
	if _, stderr, err := runCLI(t, "config", "validate", "--skip-files", topo); !errors.Is(err, errSilentFailure) || !strings.Contains(stderr, `did you mean "bedrock:InvokeModel"?`) {
		t.Errorf("config validate = %v\n%s", err, stderr)
	}
}

// TestPolicySimulateNotesUnservedActions: a real Bedrock action Meridian
// never authorizes, in a policy file or as --action, simulates, with a note
// on stderr saying so.
func TestPolicySimulateNotesUnservedActions(t *testing.T) {
	dir := t.TempDir()
	aws := filepath.Join(dir, "aws.json")
	os.WriteFile(aws, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["bedrock:InvokeModel*","bedrock:UntagResource","s3:GetObject"],"Resource":"*"}}`), 0o644)
	const arn = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"
	out, stderr, err := runCLI(t, "policy", "simulate", "--policy", aws, "--action", "bedrock:InvokeModel", "--resource", arn)
	if err != nil || !strings.Contains(out, "allow") {
		t.Fatalf("policy simulate = %v, %q", err, out)
	}
	if want := `note: policy "aws": Statement[0].Action[1]: "bedrock:UntagResource" is a Bedrock action Meridian never authorizes`; !strings.Contains(stderr, want) || strings.Contains(stderr, "s3:GetObject") {
		t.Errorf("stderr = %q, want it to contain %q and nothing about s3:GetObject", stderr, want)
	}
	_, stderr, err = runCLI(t, "policy", "simulate", "--policy", aws, "--action", "bedrock:ApplyGuardrail", "--resource", "*")
	if want := `note: --action: "bedrock:ApplyGuardrail" is a Bedrock action Meridian never authorizes`; err != nil || !strings.Contains(stderr, want) {
		t.Errorf("policy simulate --action bedrock:ApplyGuardrail = %v, stderr %q, want %q", err, stderr, want)
	}
}
