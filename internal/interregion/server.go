package interregion

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Local serves jobs forwarded to this node; *gateway.Gateway implements it.
type Local interface {
	ServeForwarded(ctx context.Context, job *dispatch.Job) (*dispatch.Outcome, error)
}

// Refuser is implemented by a Local that records the forwarded requests
// the link refuses before ServeForwarded (*gateway.Gateway implements it):
// every refusal made once the envelope was authenticated but a replay's
// (auditedRefusal), so that the destination writes its own audit event
// for each forwarded request it refuses, as for those it serves
// (docs/audit.md). job is what the envelope says (its Request is nil:
// the body was not read); residency reports a refusal of the
// destination's residency checks, counted in
// meridian_residency_rejections_total{side="destination"}. It returns the
// error to answer with.
type Refuser interface {
	RefuseForwarded(ctx context.Context, job *dispatch.Job, residency bool, err *inference.Error) *inference.Error
}

// Verifier checks a forwarded request before it is served (mTLS peer
// identity, signed envelope, replay) and returns the envelope it verified:
// the destination builds the job from it alone. It returns an error with a
// public message when the request must be refused.
type Verifier interface {
	VerifyForwarded(r *http.Request, body []byte) (*envelope.Envelope, error)
}

// ServerOptions configure the link server.
type ServerOptions struct {
	Local Local
	// Verifier, if set, must accept every forwarded request. If nil
	// (insecure_dev_link only), the envelope is read without any check.
	// A refusal made after the envelope was authenticated returns the
	// envelope with the error, so that Local (a Refuser) can record it.
	Verifier Verifier
	// State returns this node's published state (health and load).
	State func() any
	// OnPush receives a state a peer pushed after a sharp change, with the
	// region that sent it (from its certificate; "" on an insecure dev
	// link, where the caller must rely on the state's own claim).
	OnPush func(peerRegion string, state json.RawMessage)
	// Connection, if set, is checked for every request on every link route
	// (forwards, state fetches, state pushes) before anything else: pass
	// pki.Store.CheckConnection, which refuses a connection whose
	// certificates expired since its handshake. A refused request gets
	// the retryable answer of refuseConnection and its connection is
	// closed.
	Connection func(*tls.ConnectionState) error
	// MaxRequestBytes bounds forwarded bodies. If zero, 8 MiB.
	MaxRequestBytes int64
	Logger          *slog.Logger
}

// NewServer returns the link's HTTP handler.
func NewServer(opts ServerOptions) http.Handler {
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = 8 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathInvoke, s.invoke)
	mux.HandleFunc("GET "+PathState, s.state)
	mux.HandleFunc("POST "+PathState, s.push)
	if opts.Connection == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := opts.Connection(r.TLS); err != nil {
			s.refuseConnection(w, r, err)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// CodeCertificateExpired is the error code of a link request refused
// because a certificate of its connection expired since the handshake
// (ServerOptions.Connection).
const CodeCertificateExpired = "link_certificate_expired"

// HeaderLinkRefused marks an answer the link itself refused before
// serving anything (its value is the reason): the source does not count
// it as the peer being heard.
const HeaderLinkRefused = "Meridian-Link-Refused"

// refuseConnection answers a request on a connection whose certificates
// expired: nothing was served, and another region (or this one, once it
// or the source renewed) may serve, so the answer is retryable
// (unavailable, link_certificate_expired), which the source's gateway
// fails over on before the first byte. The answer carries "Connection:
// close", so that a busy connection is not reused: net/http closes an
// HTTP/1.1 connection after it, and sends GOAWAY on an HTTP/2 one (its
// streams in flight finish, no new one starts on it); the source's next
// request makes a new handshake, which fails closed.
func (s *server) refuseConnection(w http.ResponseWriter, r *http.Request, err error) {
	peer, _ := pki.PeerRegion(r)
	s.opts.Logger.Warn("link request refused", "reason", pki.ReasonExpired, telemetry.AttrPeer, peer,
		"path", r.URL.Path, telemetry.AttrError, err)
	w.Header().Set(HeaderLinkRefused, pki.ReasonExpired)
	w.Header().Set("Connection", "close")
	writeWireError(w, &inference.Error{Kind: inference.KindUnavailable, Code: CodeCertificateExpired,
		Message: "link connection refused: a link certificate expired", Err: err})
}

type server struct{ opts ServerOptions }

func (s *server) state(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderEnvelopeVersion, strconv.Itoa(linkVersion))
	w.Header().Set(HeaderLinkBody, linkBodyClient)
	var v any = struct{}{}
	if s.opts.State != nil {
		v = s.opts.State()
	}
	json.NewEncoder(w).Encode(v)
}

func (s *server) push(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil || !json.Valid(body) {
		http.Error(w, "malformed state", http.StatusBadRequest)
		return
	}
	if s.opts.OnPush != nil {
		region, _ := pki.PeerRegion(r)
		s.opts.OnPush(region, body)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) invoke(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.opts.MaxRequestBytes)
	if err != nil {
		writeWireError(w, &inference.Error{Kind: inference.KindPayloadTooLarge, Message: "forwarded request too large", Err: err})
		return
	}
	// The envelope is checked before the body is parsed: nothing an
	// unauthenticated sender wrote is decoded beyond the envelope itself.
	env, err := s.envelope(r, body)
	if err != nil {
		s.refuse(w, r, env, nil, err)
		return
	}
	job, tier, err := jobFromEnvelope(env)
	if err != nil {
		peer, _ := pki.PeerRegion(r)
		s.opts.Logger.Warn("link request refused", "reason", "malformed", telemetry.AttrPeer, peer,
			telemetry.AttrRequestID, env.RequestID, telemetry.AttrError, err)
		s.refuse(w, r, env, nil, err)
		return
	}
	// The body is the client's, as the source received it: the
	// destination peeks at it itself, in the dialect of the operation.
	if job.Request, err = requestOf(r.Header.Get("Content-Type"), env.Operation, job.ProfileID, env.Model, body); err != nil {
		job.Request = nil
		s.refuse(w, r, env, job, err)
		return
	}
	if tier != "" {
		job.Request.ServiceTier = tier
	}
	// Request metadata the body does not hold (InvokeModel's header, a
	// Responses request's metadata) travels in a header of its own,
	// covered by the envelope's hash (metadataBesideBody).
	md, err := forwardedMetadata(env, r.Header)
	if err != nil {
		job.Request = nil
		s.refuse(w, r, env, job, err)
		return
	}
	if md != nil {
		job.Request.Metadata = md
	}
	job.Receipt = r.Header.Get(receipt.Header) == "true"
	out, err := s.opts.Local.ServeForwarded(r.Context(), job)
	if err != nil {
		writeWireError(w, inference.AsError(err))
		return
	}
	setTiming(w.Header(), out.Route.Overhead)
	if out.Stream == nil {
		writeAnswer(w, out.Response, accepts(r.Header.Get("Accept"), ContentTypeAnswer))
		return
	}
	s.relay(w, out.Stream, acceptsFrames(r.Header.Get("Accept")))
}

// refuse answers a forwarded request the link refused with err. env is
// its envelope when it was authenticated (nil otherwise), job the job
// built from it if any. A refusal of an authenticated envelope is
// recorded by Local (a Refuser) first, unless it is a replay or stale
// (auditedRefusal): the
// destination writes an event for each forwarded request it refuses, as
// for those it serves (docs/audit.md, "Refusals at the destination"). An
// envelope that did not authenticate (another CA's, a bad seal, malformed)
// never reaches the audit trail: whoever can open a connection could
// otherwise fill it; it is counted and logged (EnvelopeVerifier).
func (s *server) refuse(w http.ResponseWriter, r *http.Request, env *envelope.Envelope, job *dispatch.Job, err error) {
	e := inference.AsError(err)
	rf, ok := s.opts.Local.(Refuser)
	if !ok || env == nil || !auditedRefusal(err) {
		writeWireError(w, e)
		return
	}
	if job == nil {
		job = refusedJob(env)
	}
	// The source region recorded is the one the certificate proves: an
	// envelope refused for region_mismatch claims another.
	if peer, ok := pki.PeerRegion(r); ok && peer != "" {
		job.SourceRegion = peer
	}
	reason, _ := envelope.ReasonOf(err)
	writeWireError(w, rf.RefuseForwarded(r.Context(), job, residencyReason(reason), e))
}

// auditedRefusal reports whether a refusal of an authenticated envelope
// is recorded: all but a replay's (replay, and replay_cache_full, which
// cannot tell a replay apart) and a stale envelope's. The verifier
// records the nonce of every envelope it refuses for another reason
// before refusing it (envelope.Verifier), so an envelope sent again is a
// replay: this node judged it once and recorded it once, and the peer that
// re-sent it is counted and logged. A stale envelope lies outside the
// replay window, its nonce is not recorded, and it could be re-sent
// without end: it is counted and logged, never audited.
func auditedRefusal(err error) bool {
	r, ok := envelope.ReasonOf(err)
	return !ok || (r != envelope.ReasonReplay && r != envelope.ReasonReplayCacheFull && r != envelope.ReasonStale)
}

// residencyReason reports whether the envelope was refused by the
// destination's residency checks (docs/architecture.md, "Residency is
// checked four times", check 3): the profile, resolved here, is unknown,
// excludes this destination, or is bound to a geography the source is not
// in; or the envelope names another destination. Gateway.ServeForwarded
// counts the same refusals of check 4.
func residencyReason(r envelope.Reason) bool {
	switch r {
	case envelope.ReasonWrongDestination, envelope.ReasonUnknownProfile, envelope.ReasonProfileExcludesDestination,
		envelope.ReasonGeographyMismatch, envelope.ReasonCheckFailed:
		return true
	}
	return false
}

// refusedJob is the job of a refused envelope, built from what it says
// when jobFromEnvelope could not build it (a field it refuses is left
// out).
func refusedJob(e *envelope.Envelope) *dispatch.Job {
	if job, _, err := jobFromEnvelope(e); err == nil {
		return job
	}
	id, _ := ProfileIDFromARN(e.ProfileARN)
	return &dispatch.Job{RequestID: e.RequestID, Operation: e.Operation,
		SourceRegion: e.SourceRegion, DestinationRegion: e.DestinationRegion,
		ProfileID: id, ProfileARN: e.ProfileARN, Model: e.Model,
		Principal: auth.Principal{ID: e.PrincipalID, Method: methodByName[e.AuthMethod], KeyID: e.KeyID},
		SourceIP:  e.ClientIP, SecureTransport: e.ClientTLS, TraceParent: e.TraceParent}
}

// readBody reads a forwarded request's body, at most limit bytes. A body
// of known length (the source always sends one: its body is a
// bytes.Reader) is read into one buffer of that length: io.ReadAll's
// growing buffer cost three allocations and a copy per forwarded request,
// and a MaxBytesReader one more. A length over limit is refused before
// anything is read. A body of unknown length (chunked, from no Meridian
// source), or longer than maxPreallocBody, is read as before, through
// http.MaxBytesReader: its memory grows with the bytes that arrive, not
// with what a peer merely declares.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	n := r.ContentLength
	if n > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if n < 0 || n > maxPreallocBody {
		return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	body := make([]byte, n)
	// net/http's server ends a body of known length at that length: a
	// shorter one is an error here (io.ErrUnexpectedEOF), a longer one
	// cannot be read.
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return nil, err
	}
	return body, nil
}

// maxPreallocBody is the longest body readBody allocates whole before it
// has arrived: a chat request is shorter (one with images is read as
// before). A peer that declares long bodies and sends nothing holds this
// per stream, 64 MiB for the 4,096 streams of an HTTP/2 connection
// (MaxStreamsPerConn), where it could hold 1 GiB at 256 KiB.
const maxPreallocBody = 16 << 10

// envelope returns the forwarded request's envelope: verified, or on an
// insecure development link (no Verifier) merely decoded.
func (s *server) envelope(r *http.Request, body []byte) (*envelope.Envelope, error) {
	if s.opts.Verifier != nil {
		return s.opts.Verifier.VerifyForwarded(r, body)
	}
	e, err := envelope.Decode(r.Header.Get(envelope.HeaderEnvelope))
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_malformed", Message: "link request refused: malformed", Err: err}
	}
	return &e, nil
}

// relay writes a stream: in stream frames when the source asked for them
// (framed), else as NDJSON lines, which every source reads. What is written
// is flushed before a Recv that may wait: events that arrived together
// cross the link in few writes, none waits for the next, and none waits
// behind more than inference.BurstMaxEvents-1 later ones (inference.Burst).
func (s *server) relay(w http.ResponseWriter, st inference.Stream, framed bool) {
	defer st.Close()
	if framed {
		w.Header().Set("Content-Type", ContentTypeStreamFrames)
	} else {
		w.Header().Set("Content-Type", ContentTypeNDJSON)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// Frames go straight to the response writer, whose own buffers (in
	// net/http's HTTP/1.1 server a 2 KiB chunking buffer over the
	// connection's 4 KiB writer; 4 KiB in HTTP/2) gather them until the
	// flush: a buffer of the relay's own on top cost every open stream 1
	// KiB more.
	fw := frameWriter{w: w}
	// The NDJSON encoder, its line and the event the line points to are
	// made only for a source that reads NDJSON (older than stream frames):
	// a stream in frames costs no allocation for them, and ev stays on the
	// stack. They are reused, and the line is encoded through a pointer, so
	// an event costs no allocation here.
	var nd *ndjsonLines
	if !framed {
		nd = &ndjsonLines{enc: json.NewEncoder(w)}
	}
	var ev inference.Event
	var burst inference.Burst
	flush := func() bool { return rc.Flush() == nil }
	for {
		if !burst.Hold(st) && !flush() {
			return // the source went away; closing the stream cancels the backend
		}
		var err error
		ev, err = st.Recv()
		var receipt string
		if errors.Is(err, io.EOF) {
			// The destination's record is written before the source learns
			// that the stream ended.
			st.Close()
			if rs, ok := st.(interface{ Receipt() string }); ok {
				receipt = rs.Receipt()
			}
		}
		var werr error
		switch {
		case framed && err == nil:
			if werr = fw.writeEvent(&ev); errors.Is(werr, errFrameTooLarge) {
				// The source would refuse it: say so in-stream instead.
				s.opts.Logger.Warn("stream event too large for the link", "bytes", len(ev.Raw), "max_bytes", maxFrameBytes)
				err = &inference.Error{Kind: inference.KindUpstream, Message: "the upstream sent a stream event too large for the link"}
				werr = fw.writeError(toWire(inference.AsError(err)))
			}
		case framed && errors.Is(err, io.EOF):
			werr = fw.writeEnd(receipt)
		case framed:
			werr = fw.writeError(toWire(inference.AsError(err)))
		default:
			werr = nd.write(ev, err, receipt)
		}
		if werr != nil {
			return // the source went away; closing the stream cancels the backend
		}
		burst.Wrote()
		if err != nil {
			// The last frame waits in the response writer's buffer: the
			// handler's return writes it with the body's end (HTTP/1.1's
			// last chunk, HTTP/2's END_STREAM) in one write, and the
			// source, reading both together, gives its pooled connection
			// back at once.
			return
		}
	}
}

// ndjsonLines writes a stream's lines in NDJSON, for a source that does not
// read stream frames.
type ndjsonLines struct {
	enc  *json.Encoder
	ev   inference.Event
	line streamLine
}

// write writes the line of ev, or of the stream's end (err io.EOF, with
// the destination's receipt) or of its error.
func (nd *ndjsonLines) write(ev inference.Event, err error, receipt string) error {
	nd.line = streamLine{}
	switch {
	case err == nil:
		nd.ev = ev
		nd.line.Event = &nd.ev
	case errors.Is(err, io.EOF):
		nd.line.End, nd.line.Receipt = true, receipt
	default:
		we := toWire(inference.AsError(err))
		nd.line.Error = &we
	}
	return nd.enc.Encode(&nd.line)
}
