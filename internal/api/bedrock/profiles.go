package bedrock

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Bedrock's patterns for names and descriptions [CP].
var (
	profileNameRE = regexp.MustCompile(`^([0-9a-zA-Z][ _-]?)+$`)
	descriptionRE = regexp.MustCompile(`^([0-9a-zA-Z:.][ _-]?)+$`)
)

// Bedrock's limits on tags [CP].
const (
	maxTags        = 200
	maxTagKey      = 128
	maxTagValue    = 256
	defaultResults = 1000
)

// timeFormat is the iso8601 form the SDK parses for timestamps.
const timeFormat = "2006-01-02T15:04:05.000Z"

type modelRef struct {
	ModelArn string `json:"modelArn"`
}

// profileSummary is InferenceProfileSummary, which is also the body of
// GetInferenceProfile.
type profileSummary struct {
	InferenceProfileName string     `json:"inferenceProfileName"`
	InferenceProfileArn  string     `json:"inferenceProfileArn"`
	InferenceProfileID   string     `json:"inferenceProfileId"`
	Description          string     `json:"description,omitempty"`
	Models               []modelRef `json:"models"`
	Status               string     `json:"status"`
	Type                 string     `json:"type"`
	CreatedAt            string     `json:"createdAt,omitempty"`
	UpdatedAt            string     `json:"updatedAt,omitempty"`
}

type listResponse struct {
	InferenceProfileSummaries []profileSummary `json:"inferenceProfileSummaries"`
	NextToken                 string           `json:"nextToken,omitempty"`
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type createRequest struct {
	InferenceProfileName string `json:"inferenceProfileName"`
	Description          string `json:"description"`
	ClientRequestToken   string `json:"clientRequestToken"`
	ModelSource          *struct {
		CopyFrom string `json:"copyFrom"`
	} `json:"modelSource"`
	Tags []tag `json:"tags"`
}

type createResponse struct {
	InferenceProfileArn string `json:"inferenceProfileArn"`
	Status              string `json:"status"`
}

// Records returns the API-created profiles and tombstones, sorted by id.
func (h *Handler) Records() []profilestore.Record { return h.profiles.Records() }

// Merge merges records received from elsewhere into the registry: for each
// id the newest record wins, the result is persisted and served. Records
// this API could not have created, dated too far ahead, or changing an
// immutable field are logged and left out (profile.Registry.MergeFrom);
// accepted changes are logged. It reports
// whether anything changed. Nodes merge what peers send into their
// registry directly; this serves a handler used without a node.
func (h *Handler) Merge(remote []profilestore.Record) (bool, error) {
	changes, rejected, err := h.profiles.MergeFrom(h.g.Catalog(), remote, profile.Origin{Now: h.opts.Clock.Now()})
	for _, c := range changes {
		h.log.Info("application profile changed from elsewhere", profilestore.ChangeAttrs(c)...)
	}
	for _, e := range rejected {
		h.log.Warn("application profile from elsewhere not accepted; ignored", telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
	}
	return len(changes) > 0, err
}

// record returns the live API-created record of id.
func (h *Handler) record(id string) (profilestore.Record, bool) { return h.profiles.Get(id) }

// registryError renders an error of the registry's changing methods for
// the client; notSaved is the message when the change could not be saved.
func registryError(err error, notSaved string) error {
	switch {
	case errors.Is(err, profilestore.ErrUnavailable):
		return &inference.Error{Kind: inference.KindInternal, Message: "the profile store is unavailable", Err: err}
	case errors.Is(err, profilestore.ErrNotSaved):
		return &inference.Error{Kind: inference.KindInternal, Message: notSaved, Err: err}
	}
	return nil
}

// controlCall authenticates a control-plane request and authorizes action
// on resource. It renders the error and returns nil on failure.
func (h *Handler) controlCall(w http.ResponseWriter, r *http.Request, op string) (*gateway.Call, []byte) {
	call := h.begin(w, r, op)
	body, err := h.readAuthenticated(w, r, call)
	if err != nil {
		h.reject(w, r, call, err)
		return nil, nil
	}
	return call, body
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, call *gateway.Call, in ControlInput) bool {
	if err := h.decide(r, call, in); err != nil {
		h.reject(w, r, call, err)
		return false
	}
	return true
}

// decide authorizes in for call's principal, from this region, now.
func (h *Handler) decide(r *http.Request, call *gateway.Call, in ControlInput) error {
	in.Principal, in.Region, in.SourceIP, in.SecureTransport, in.Now = call.Principal, h.g.Region(), call.SourceIP, call.SecureTransport, h.opts.Clock.Now()
	return h.opts.Authorizer.AuthorizeControl(r.Context(), in)
}

func (h *Handler) arn(typ, id string) string {
	cat := h.g.Catalog()
	return profile.ARN{Partition: cat.Partition(), Service: "bedrock", Region: h.g.Region(), Account: cat.Account(), Type: typ, ID: id}.String()
}

// summary renders a profile as Bedrock does.
func (h *Handler) summary(cat *profile.Catalog, p *profile.Profile) profileSummary {
	region := h.g.Region()
	s := profileSummary{InferenceProfileName: p.ID, InferenceProfileArn: p.ARN(cat.Partition(), region, cat.Account()),
		InferenceProfileID: p.ID, Description: p.Description, Status: "ACTIVE", Type: p.Type.String()}
	// As Bedrock does, models lists the destinations of the region asked:
	// a profile's set depends on the source region.
	dst := p.DestinationsFrom(region)
	if dst == nil {
		dst = p.Destinations
	}
	for _, d := range dst {
		s.Models = append(s.Models, modelRef{ModelArn: profile.FoundationModelARN(cat.Partition(), d, p.Model)})
	}
	if rec, ok := h.record(p.ID); ok {
		s.InferenceProfileName = rec.Name
		s.CreatedAt, s.UpdatedAt = rec.CreatedAt.UTC().Format(timeFormat), rec.UpdatedAt.UTC().Format(timeFormat)
	} else if !p.CreatedAt.IsZero() {
		s.CreatedAt = p.CreatedAt.UTC().Format(timeFormat)
	}
	return s
}

func (h *Handler) listProfiles(w http.ResponseWriter, r *http.Request) {
	call, _ := h.controlCall(w, r, gateway.OpListInferenceProfiles)
	if call == nil {
		return
	}
	if !h.authorize(w, r, call, ControlInput{Action: ActionListInferenceProfiles, Resource: h.arn(profile.ResourceInferenceProfile, "*")}) {
		return
	}
	q := r.URL.Query()
	var want profile.Type
	switch t := q.Get("type"); t {
	case "":
	case "SYSTEM_DEFINED":
		want = profile.SystemDefined
	case "APPLICATION":
		want = profile.Application
	default:
		h.reject(w, r, call, invalid("type must be SYSTEM_DEFINED or APPLICATION"))
		return
	}
	limit := defaultResults
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			h.reject(w, r, call, invalid("maxResults must be between 1 and 1000"))
			return
		}
		limit = n
	}
	after := ""
	if tok := q.Get("nextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 {
			h.reject(w, r, call, invalid("nextToken is not a token this API returned"))
			return
		}
		after = string(b)
	}
	cat := h.g.Catalog()
	resp := listResponse{InferenceProfileSummaries: []profileSummary{}}
	for _, p := range cat.CallableFrom(h.g.Region()) { // sorted by id
		if want != 0 && p.Type != want || p.ID <= after || !h.visible(r, call, cat, p) {
			continue
		}
		if len(resp.InferenceProfileSummaries) == limit {
			last := resp.InferenceProfileSummaries[limit-1].InferenceProfileID
			resp.NextToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		resp.InferenceProfileSummaries = append(resp.InferenceProfileSummaries, h.summary(cat, p))
	}
	h.g.RecordControl(r.Context(), call, "", "", http.StatusOK)
	writeJSON(w, http.StatusOK, resp)
}

// visible reports whether ListInferenceProfiles shows p to call's
// principal: when the principal may read it (bedrock:GetInferenceProfile
// on its ARN, with its tags, as GetInferenceProfile authorizes) or invoke
// it from this region (either invoke action, as the runtime authorizes:
// gateway.Gateway.Invocable). Amazon Bedrock authorizes the list on "*"
// and shows every profile; a regulated caller allowed only some profiles
// would learn every other's name, so the list shows no profile that the
// caller could not learn of by a call it may make (docs/api.md, "Who sees
// what"). An explicit Deny of bedrock:GetInferenceProfile on the profile
// hides it even from a principal that may invoke it: the policy's author
// said this principal is not to read it, and the list is a read. The
// checks record nothing: the list is recorded once, as before.
func (h *Handler) visible(r *http.Request, call *gateway.Call, cat *profile.Catalog, p *profile.Profile) bool {
	in := ControlInput{Principal: call.Principal, Action: ActionGetInferenceProfile, Resource: p.ARN(cat.Partition(), h.g.Region(), cat.Account()),
		ResourceTags: p.Tags, Region: h.g.Region(), SourceIP: call.SourceIP, SecureTransport: call.SecureTransport, Now: h.opts.Clock.Now()}
	err := h.opts.Authorizer.AuthorizeControl(r.Context(), in)
	if err == nil {
		return true
	}
	if explicitDeny(err) {
		return false
	}
	res, err := cat.Resolve(h.g.Region(), p.ID)
	return err == nil && len(h.g.Invocable(call, res)) > 0
}

// explicitDeny reports whether err, an authorizer's refusal, was decided
// by a Deny statement (gateway.DenyCause) rather than by no Allow.
func explicitDeny(err error) bool {
	var dc *gateway.DenyCause
	return errors.As(err, &dc) && dc.Decision == policy.ExplicitDeny
}

// lookup finds the profile an identifier (id or ARN) names, as visible from
// this region.
func (h *Handler) lookup(cat *profile.Catalog, ident string) (*profile.Profile, error) {
	notFound := &inference.Error{Kind: inference.KindNotFound, Message: "inference profile " + ident + " was not found"}
	id := ident
	if strings.HasPrefix(ident, "arn:") {
		a, err := profile.ParseARN(ident)
		if err != nil {
			return nil, invalid(err.Error())
		}
		if a.Type != profile.ResourceInferenceProfile && a.Type != profile.ResourceApplicationInferenceProfile {
			return nil, invalid("the identifier must be an inference-profile or application-inference-profile ARN, or a profile id")
		}
		id = a.ID
	}
	p, ok := cat.Get(id)
	if !ok || !p.CallableFrom(h.g.Region()) {
		return nil, notFound
	}
	if id != ident && p.ARN(cat.Partition(), h.g.Region(), cat.Account()) != ident {
		return nil, notFound
	}
	return p, nil
}

// authorizeProfile looks up the profile the path's {id} names and
// authorizes action on its ARN, with its tags; when it names no profile,
// action is authorized on the id as given first, so that a caller without
// the right cannot tell which profiles exist: a refusal names the id as
// the caller gave it in both cases (the ARN a known id resolves to would
// tell an existing profile, and its type, from an unknown one). It renders
// any refusal and then returns ok=false.
func (h *Handler) authorizeProfile(w http.ResponseWriter, r *http.Request, call *gateway.Call, cat *profile.Catalog, action string) (p *profile.Profile, resource string, ok bool) {
	ident := r.PathValue("id")
	p, err := h.lookup(cat, ident)
	in := ControlInput{Action: action, Resource: ident}
	if err == nil {
		in.Resource, in.ResourceTags = p.ARN(cat.Partition(), h.g.Region(), cat.Account()), p.Tags
	}
	if derr := h.decide(r, call, in); derr != nil {
		var e *inference.Error
		if in.Resource != ident && errors.As(derr, &e) {
			shown := *e
			shown.Message = strings.ReplaceAll(e.Message, in.Resource, inference.Clip(ident, 4*inference.EchoLimit))
			derr = &shown
		}
		h.reject(w, r, call, derr)
		return nil, "", false
	}
	if err != nil {
		h.reject(w, r, call, err)
		return nil, "", false
	}
	return p, in.Resource, true
}

func (h *Handler) getProfile(w http.ResponseWriter, r *http.Request) {
	call, _ := h.controlCall(w, r, gateway.OpGetInferenceProfile)
	if call == nil {
		return
	}
	cat := h.g.Catalog()
	p, resource, ok := h.authorizeProfile(w, r, call, cat, ActionGetInferenceProfile)
	if !ok {
		return
	}
	h.g.RecordControl(r.Context(), call, p.ID, resource, http.StatusOK)
	writeJSON(w, http.StatusOK, h.summary(cat, p))
}

func (h *Handler) createProfile(w http.ResponseWriter, r *http.Request) {
	call, body := h.controlCall(w, r, gateway.OpCreateInferenceProfile)
	if call == nil {
		return
	}
	var cr createRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		h.reject(w, r, call, invalid("request body is not valid JSON: "+err.Error()))
		return
	}
	tags := map[string]string{}
	for _, t := range cr.Tags {
		tags[t.Key] = t.Value
	}
	id, err := newProfileID()
	if err != nil {
		h.reject(w, r, call, err)
		return
	}
	arn := h.arn(profile.ResourceApplicationInferenceProfile, id)
	if !h.authorize(w, r, call, ControlInput{Action: ActionCreateInferenceProfile, Resource: arn, RequestTags: tags}) {
		return
	}
	if len(tags) > 0 && !h.authorize(w, r, call, ControlInput{Action: ActionTagResource, Resource: arn, RequestTags: tags}) {
		return
	}
	if err := validateCreate(&cr); err != nil {
		h.reject(w, r, call, err)
		return
	}
	rec := profilestore.Record{ID: id, Name: cr.InferenceProfileName, CopyFrom: cr.ModelSource.CopyFrom, Description: cr.Description,
		Tags: tags, HomeRegion: h.g.Region(), ClientRequestToken: cr.ClientRequestToken}
	rec, created, err := h.create(rec)
	if err != nil {
		h.reject(w, r, call, err)
		return
	}
	if created && h.opts.Peers != nil {
		h.opts.Peers.Publish(context.WithoutCancel(r.Context()), []profilestore.Record{rec})
	}
	cat := h.g.Catalog()
	p := profile.Profile{ID: rec.ID, Type: profile.Application, HomeRegion: rec.HomeRegion}
	arn = p.ARN(cat.Partition(), h.g.Region(), cat.Account())
	h.g.RecordControl(r.Context(), call, rec.ID, arn, http.StatusCreated)
	writeJSON(w, http.StatusCreated, createResponse{InferenceProfileArn: arn, Status: "ACTIVE"})
}

func validateCreate(cr *createRequest) error {
	switch n := cr.InferenceProfileName; {
	case n == "":
		return invalid("inferenceProfileName is required")
	case len(n) > 64 || !profileNameRE.MatchString(n):
		return invalid("inferenceProfileName must be 1 to 64 letters, digits, and single spaces, '_' or '-' between them")
	case cr.ModelSource == nil || cr.ModelSource.CopyFrom == "":
		return invalid("modelSource.copyFrom is required: the ARN of an inference profile or foundation model to copy")
	case cr.Description != "" && (len(cr.Description) > 200 || !descriptionRE.MatchString(cr.Description)):
		return invalid("description must be 1 to 200 letters, digits, ':' or '.', with single spaces, '_' or '-' between them")
	case len(cr.Tags) > maxTags:
		return &inference.Error{Kind: inference.KindInvalidRequest, Code: ExcTooManyTags, Message: fmt.Sprintf("at most %d tags are allowed", maxTags)}
	case len(cr.ClientRequestToken) > 256:
		return invalid("clientRequestToken must be at most 256 characters")
	}
	seen := map[string]bool{}
	for i, t := range cr.Tags {
		if t.Key == "" || len(t.Key) > maxTagKey || len(t.Value) > maxTagValue {
			return invalid(fmt.Sprintf("tags[%d]: keys are 1 to %d characters, values at most %d", i, maxTagKey, maxTagValue))
		}
		if seen[t.Key] {
			return invalid(fmt.Sprintf("tags[%d]: key %q appears twice", i, t.Key))
		}
		seen[t.Key] = true
	}
	return nil
}

// create adds rec unless its client token was already used (then it returns
// the earlier record and created=false). The registry persists before it
// serves, so a profile a client was told about survives a restart.
func (h *Handler) create(rec profilestore.Record) (profilestore.Record, bool, error) {
	out, created, err := h.profiles.Create(h.g.Catalog(), rec, h.opts.Clock.Now())
	switch {
	case err == nil:
		return out, created, nil
	case errors.Is(err, profile.ErrTokenReused):
		return rec, false, &inference.Error{Kind: inference.KindInvalidRequest, Code: ExcConflict,
			Message: "clientRequestToken was already used for a different request"}
	case errors.Is(err, profile.ErrNameTaken):
		return rec, false, &inference.Error{Kind: inference.KindInvalidRequest, Code: ExcConflict,
			Message: "an inference profile named " + strconv.Quote(rec.Name) + " already exists"}
	case errors.Is(err, profile.ErrCopyApplication):
		return rec, false, invalid("modelSource.copyFrom must be a system inference profile or a foundation model, not an application profile")
	}
	if e := registryError(err, "the profile could not be stored"); e != nil {
		return rec, false, e
	}
	return rec, false, copyError(err)
}

func copyError(err error) *inference.Error {
	msg := "modelSource.copyFrom: " + err.Error()
	if errors.Is(err, profile.ErrNotFound) {
		return &inference.Error{Kind: inference.KindNotFound, Message: msg}
	}
	return invalid(msg)
}

func (h *Handler) deleteProfile(w http.ResponseWriter, r *http.Request) {
	call, _ := h.controlCall(w, r, gateway.OpDeleteInferenceProfile)
	if call == nil {
		return
	}
	cat := h.g.Catalog()
	p, resource, ok := h.authorizeProfile(w, r, call, cat, ActionDeleteInferenceProfile)
	if !ok {
		return
	}
	if p.Type != profile.Application {
		h.reject(w, r, call, invalid(p.ID+" is a system-defined inference profile; only application profiles can be deleted"))
		return
	}
	rec, err := h.delete(p.ID)
	if err != nil {
		h.reject(w, r, call, err)
		return
	}
	if h.opts.Peers != nil {
		h.opts.Peers.Publish(context.WithoutCancel(r.Context()), []profilestore.Record{rec})
	}
	h.g.RecordControl(r.Context(), call, p.ID, resource, http.StatusOK)
	writeJSON(w, http.StatusOK, struct{}{})
}

// delete replaces id's record with a tombstone.
func (h *Handler) delete(id string) (profilestore.Record, error) {
	tomb, err := h.profiles.Delete(id, h.opts.Clock.Now())
	if errors.Is(err, profile.ErrNoRecord) {
		return profilestore.Record{}, invalid(id + " is defined in the topology file; remove it there")
	}
	if e := registryError(err, "the deletion could not be stored"); e != nil {
		return profilestore.Record{}, e
	}
	return tomb, err
}

// newProfileID returns a 12-character lower-case alphanumeric id, the form
// Bedrock's application profile ids take.
func newProfileID() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}
