package policy_test

import (
	"fmt"

	"github.com/meridian-gateway/meridian/internal/policy"
)

// A principal allowed the EU profile and EU foundation models invokes the
// global profile from eu-west-1: only the EU destinations may serve it.
func ExampleSet_AuthorizeInvoke() {
	invoke := policy.MustParse("invoke-eu-only", `{
		"Version": "2012-10-17",
		"Statement": [{
			"Effect": "Allow",
			"Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
			"Resource": [
				"arn:aws:bedrock:eu-*:111122223333:inference-profile/global.*",
				"arn:aws:bedrock:eu-*::foundation-model/*"
			]
		}]
	}`)
	set := policy.NewSet([]*policy.Policy{invoke}, nil)

	c := policy.NewContext(8)
	c.Add(policy.KeySourceRegion, "eu-west-1")
	c.Add(policy.KeyUsername, "claims-service")

	inv := &policy.Invocation{
		Action:       policy.ActionInvokeModel,
		SourceRegion: "eu-west-1",
		ProfileARN:   "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.demo.chat-small",
	}
	for _, region := range []string{"us-east-1", "eu-west-1", "eu-central-1"} {
		inv.Destinations = append(inv.Destinations, policy.Destination{
			Region:   region,
			ModelARN: policy.FoundationModelARN("aws", region, "demo.chat-small"),
		})
	}
	for _, r := range set.AuthorizeInvoke(inv, c, nil) {
		if r.Allowed() {
			fmt.Printf("%s: %s\n", r.Region, r.Result.Decision)
		} else {
			fmt.Printf("%s: %s\n", r.Region, r.Denial.Message())
		}
	}
	// Output:
	// us-east-1: not authorized to perform bedrock:InvokeModel on resource arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small
	// eu-west-1: allow
	// eu-central-1: allow
}

// Evaluate one request against identity policies and a guardrail.
func ExampleSet_Evaluate() {
	identity := policy.MustParse("admin", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}}`)
	guardrail := policy.MustParse("no-delete", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Sid":"NoDelete","Effect":"Deny","Action":"bedrock:Delete*","Resource":"*"}]}`)
	set := policy.NewSet([]*policy.Policy{identity}, []*policy.Policy{guardrail})

	profile := "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu"
	for _, action := range []string{policy.ActionGetInferenceProfile, policy.ActionDeleteInferenceProfile, "s3:GetObject"} {
		r := set.Evaluate(action, profile, nil)
		fmt.Println(action, r.Decision, r.Statement)
	}
	// Output:
	// bedrock:GetInferenceProfile allow admin/#0
	// bedrock:DeleteInferenceProfile explicitDeny guardrail no-delete/NoDelete
	// s3:GetObject implicitDeny none
}

// Parse errors name the statement and the element; the caller adds the
// policy's name.
func ExampleParse() {
	_, err := policy.Parse("p", []byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Invoke","Effect":"Allow","Action":"bedrock:InvokeModel","NotAction":"bedrock:Get*","Resource":"*"}]}`))
	fmt.Printf("policies.invoke-eu-only: %v\n", err)
	// Output:
	// policies.invoke-eu-only: Statement[0] (Sid "Invoke").NotAction: a statement has Action or NotAction, not both
}
