// Command bedrock-sdk is an ordinary AWS SDK for Go v2 program that works
// against Amazon Bedrock and, with only the endpoint and credentials changed,
// against a Meridian node: it lists inference profiles, creates an
// application profile copying eu.demo.chat-small, converses through it
// (streaming and not), prints where inference ran (the
// x-meridian-inference-region response header), deletes the profile, and
// shows the typed errors for throttling and denied access.
//
//	export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   # an access key from the topology
//	go run ./examples/bedrock-sdk -endpoint http://127.0.0.1:8081 -region eu-west-1
//
// See docs/bedrock.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// options are the program's inputs. Only Endpoint and the credentials
// differ between Amazon Bedrock and Meridian.
type options struct {
	Endpoint string // "" for Amazon Bedrock itself
	Region   string
	// Credentials, if nil, come from the default chain (environment,
	// ~/.aws, roles).
	Credentials aws.CredentialsProvider
	// CopyFrom is the system profile the application profile copies.
	CopyFrom string
	// ThrottledModel, if set, is invoked once to show a ThrottlingException.
	ThrottledModel string
	// DeniedCredentials, if set, are used once to show an AccessDeniedException.
	DeniedCredentials aws.CredentialsProvider
	// HTTPClient, if set, sends the SDK's requests instead of its default
	// client (tests).
	HTTPClient aws.HTTPClient
}

// result is what the run observed, for tests.
type result struct {
	ProfileARN       string
	RequestIDs       []string
	InferenceRegions []string
	Throttled        bool
	Denied           bool
}

func main() {
	var o options
	flag.StringVar(&o.Endpoint, "endpoint", "", "Meridian node URL (empty: Amazon Bedrock)")
	flag.StringVar(&o.Region, "region", "eu-west-1", "region (Meridian: the node's region)")
	flag.StringVar(&o.CopyFrom, "copy-from", "eu.demo.chat-small", "system inference profile to copy")
	flag.StringVar(&o.ThrottledModel, "throttled-model", "", "a model or profile expected to be throttled (optional)")
	deniedKey := flag.String("denied-access-key", "", "access key id of a principal without invoke permission (optional; secret in DENIED_SECRET_ACCESS_KEY)")
	flag.Parse()
	if *deniedKey != "" {
		o.DeniedCredentials = credentials.NewStaticCredentialsProvider(*deniedKey, os.Getenv("DENIED_SECRET_ACCESS_KEY"), "")
	}
	if _, err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) (*result, error) {
	loadOpts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(o.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, err
	}
	cfg.HTTPClient = keepConnections{cfg.HTTPClient}
	endpoint := func(base **string) {
		if o.Endpoint != "" {
			*base = aws.String(o.Endpoint)
		}
	}
	cp := bedrock.NewFromConfig(cfg, func(opt *bedrock.Options) { endpoint(&opt.BaseEndpoint) })
	rt := bedrockruntime.NewFromConfig(cfg, func(opt *bedrockruntime.Options) { endpoint(&opt.BaseEndpoint) })
	res := &result{}

	// 1. List the system-defined profiles callable from this region.
	list, err := cp.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: cptypes.InferenceProfileTypeSystemDefined})
	if err != nil {
		return nil, fmt.Errorf("list inference profiles: %w", err)
	}
	var copyFrom string
	for _, p := range list.InferenceProfileSummaries {
		fmt.Fprintf(out, "profile %-28s %d destination(s)\n", aws.ToString(p.InferenceProfileId), len(p.Models))
		if aws.ToString(p.InferenceProfileId) == o.CopyFrom {
			copyFrom = aws.ToString(p.InferenceProfileArn)
		}
	}
	if copyFrom == "" {
		return nil, fmt.Errorf("system profile %s is not callable from %s", o.CopyFrom, o.Region)
	}

	// 2. Create an application profile copying it, tagged for cost allocation.
	created, err := cp.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{
		InferenceProfileName: aws.String("sdk-example"),
		ModelSource:          &cptypes.InferenceProfileModelSourceMemberCopyFrom{Value: copyFrom},
		Tags:                 []cptypes.Tag{{Key: aws.String("cost-center"), Value: aws.String("examples")}},
	})
	if err != nil {
		return nil, fmt.Errorf("create inference profile: %w", err)
	}
	res.ProfileARN = aws.ToString(created.InferenceProfileArn)
	fmt.Fprintf(out, "created %s\n", res.ProfileARN)
	defer func() {
		// 6. Delete it, whatever happened.
		if _, err := cp.DeleteInferenceProfile(context.WithoutCancel(ctx), &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(res.ProfileARN)}); err != nil {
			fmt.Fprintf(out, "delete %s: %v\n", res.ProfileARN, err)
			return
		}
		fmt.Fprintf(out, "deleted %s\n", res.ProfileARN)
	}()
	note := func(md middleware.Metadata) string {
		id, _ := awsmiddleware.GetRequestIDMetadata(md)
		region := "(not reported)"
		if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw.Header.Get("X-Meridian-Inference-Region") != "" {
			region = raw.Header.Get("X-Meridian-Inference-Region")
		}
		res.RequestIDs, res.InferenceRegions = append(res.RequestIDs, id), append(res.InferenceRegions, region)
		return fmt.Sprintf("request %s ran in %s", id, region)
	}
	msgs := []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "Where does my data go?"}}}}

	// 3. Converse through it.
	conv, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(res.ProfileARN), Messages: msgs,
		InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(32)}})
	if err != nil {
		return res, fmt.Errorf("converse: %w", err)
	}
	text := ""
	if m, ok := conv.Output.(*rttypes.ConverseOutputMemberMessage); ok && len(m.Value.Content) > 0 {
		if t, ok := m.Value.Content[0].(*rttypes.ContentBlockMemberText); ok {
			text = t.Value
		}
	}
	fmt.Fprintf(out, "converse: %q (%s)\n", text, note(conv.ResultMetadata))

	// 4. The same, streaming: read every event.
	st, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(res.ProfileARN), Messages: msgs,
		InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(32)}})
	if err != nil {
		return res, fmt.Errorf("converse stream: %w", err)
	}
	where := note(st.ResultMetadata)
	stream := st.GetStream()
	var sb strings.Builder
	for ev := range stream.Events() {
		if d, ok := ev.(*rttypes.ConverseStreamOutputMemberContentBlockDelta); ok {
			if t, ok := d.Value.Delta.(*rttypes.ContentBlockDeltaMemberText); ok {
				sb.WriteString(t.Value)
			}
		}
	}
	stream.Close()
	if err := stream.Err(); err != nil {
		return res, fmt.Errorf("converse stream: %w", err)
	}
	fmt.Fprintf(out, "converse-stream: %q (%s)\n", sb.String(), where)

	// 5. Typed errors.
	if o.ThrottledModel != "" {
		_, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(o.ThrottledModel), Messages: msgs})
		var te *rttypes.ThrottlingException
		if res.Throttled = errors.As(err, &te); res.Throttled {
			fmt.Fprintf(out, "throttled: %s\n", te.ErrorMessage())
		} else {
			fmt.Fprintf(out, "expected a ThrottlingException from %s, got %v\n", o.ThrottledModel, err)
		}
	}
	if o.DeniedCredentials != nil {
		denied := bedrockruntime.NewFromConfig(cfg, func(opt *bedrockruntime.Options) {
			endpoint(&opt.BaseEndpoint)
			opt.Credentials = o.DeniedCredentials
		})
		_, err := denied.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(o.CopyFrom), Messages: msgs})
		var ade *rttypes.AccessDeniedException
		if res.Denied = errors.As(err, &ade); res.Denied {
			fmt.Fprintf(out, "access denied: %s\n", ade.ErrorMessage())
		} else {
			fmt.Fprintf(out, "expected an AccessDeniedException, got %v\n", err)
		}
	}
	return res, nil
}

// keepConnections works around a defect of the SDK's request bodies (in
// smithy-go) that costs a program a connection on one call in a few:
// net/http, having sent a body's Content-Length, reads the body once more
// to check that nothing is left (with WriteTo when the body has one), and
// over HTTP/1.1 the answer may arrive first; the SDK then closes the body,
// whose WriteTo reports io.EOF as an error, so net/http takes the write
// for failed and drops the connection. The next call dials, and shakes
// hands, again. Hiding WriteTo makes that read see the body's end.
type keepConnections struct{ aws.HTTPClient }

func (c keepConnections) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return c.HTTPClient.Do(r)
}
