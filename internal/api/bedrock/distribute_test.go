package bedrock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// whenProfiles returns a channel closed once n's application-profile
// registry satisfies cond, and its gateway serves what it holds: the
// registry tells its subscribers of every change in the order they
// subscribed, after the node's catalog feed. stop ends the subscription.
func whenProfiles(n *node.Node, cond func(*profile.Registry) bool) (done <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	var once sync.Once
	stop = n.Profiles().Subscribe(func(r *profile.Registry) {
		if cond(r) {
			once.Do(func() { close(ch) })
		}
	})
	return ch, stop
}

// TestProfilesReachOtherRegions: a profile created through one region's
// node is resolved by the other regions' nodes, and its deletion too.
//
// Nodes fetch their peers' states, application profiles included, every
// load interval on their clock: a manual one here, which the test moves by
// one interval after each change, then waits for the change to reach the
// other node's registry (no polling). The mock models are unpaced, as
// their pacing runs on the same clock.
func TestProfilesReachOtherRegions(t *testing.T) { overTransports(t, testProfilesReachOtherRegions) }

func testProfilesReachOtherRegions(t *testing.T) {
	clk := clock.NewManual(time.Now()) // near the wall clock: the SDK signs with it
	c := startClusterWith(t, euRegions, "", "", withClock(clk))
	for _, n := range c.nodes {
		n.Backends()["demo.chat-small"].(*backend.Mock).Server().SetPacing(0, 0)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer cancel()
	await := func(what string, done <-chan struct{}) {
		t.Helper()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("%s: never happened", what)
		}
	}
	out, err := c.controlClient("eu-west-1").CreateInferenceProfile(ctx, &awsbedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String("shared"),
		ModelSource: &cptypes.InferenceProfileModelSourceMemberCopyFrom{Value: profile.ProfileARN("aws", "eu-west-1", "111122223333", "eu.demo.chat-small")}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.InferenceProfileArn)
	id := arn[len(arn)-12:]
	central := c.controlClient("eu-central-1")
	seen, stop := whenProfiles(c.nodes["eu-central-1"], func(r *profile.Registry) bool { _, ok := r.Get(id); return ok })
	defer stop()
	clk.Advance(loadInterval) // eu-central-1 fetches eu-west-1's state
	await("profile visible in eu-central-1", seen)
	if _, err := central.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)}); err != nil {
		t.Fatalf("GetInferenceProfile(%s) in eu-central-1: %v", id, err)
	}
	if _, err := c.runtimeClient("eu-central-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(id), Messages: userMessage("hi")}); err != nil {
		t.Fatalf("Converse(%s) in eu-central-1: %v", id, err)
	}
	if _, err := c.controlClient("eu-west-1").DeleteInferenceProfile(ctx, &awsbedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	gone, stop := whenProfiles(c.nodes["eu-central-1"], func(r *profile.Registry) bool { _, ok := r.Get(id); return !ok })
	defer stop()
	clk.Advance(loadInterval)
	await("deletion visible in eu-central-1", gone)
	if _, err := central.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)}); err == nil {
		t.Fatalf("GetInferenceProfile(%s) in eu-central-1 after its deletion succeeded, want not found", id)
	}
}
