// Package interregion is the node-to-node link: the client that forwards a
// job to another region's node and streams the answer back, the server that
// hands forwarded jobs to the local gateway, and the peer prober that tells
// the gateway which peers answer. Transport security (mutual TLS 1.3 with
// region identities) comes from package pki and request signing from
// package interregion/envelope.
//
// Wire format (HTTP/1.1 or HTTP/2, JSON): POST /link/v1/invoke carries the
// canonical request as the body and the job's metadata in the envelope
// (Meridian-Link-Envelope, sealed by Meridian-Link-Mac or
// Meridian-Link-Signature; see package envelope). The destination reads the
// job's metadata from the envelope only; testdata/wire pins the exact
// headers and envelope fields. GET /link/v1/state answers the node's
// published state, with its link version in Meridian-Link-Envelope-Version
// (the newest envelope version it accepts, or a capability version above
// it); the client writes each peer the newest envelope version both know.
// A non-streaming answer is the inference.Response: in the answer form
// (below) or as JSON. Errors before the first byte use the HTTP status of
// their kind and a JSON body
// {"kind","message","code","retryAfterMs","upstreamStatus"}.
//
// # Forwarded answers
//
// The source sends "Accept: application/vnd.meridian.answer.v1,
// application/json; q=0.5" on every non-streaming request it forwards. A
// destination that knows the answer form ([ContentTypeAnswer]) answers in
// it when the Response carries a pass-through Body (the upstream's answer,
// in the request's dialect) and its metadata fits the grammar below:
//
//	Content-Type: application/vnd.meridian.answer.v1
//	Content-Length: <length of Body>
//	Meridian-Answer: dialect=<name>[;id=<text>][;model=<text>][;stop=<stop reason>];usage=<n>,<n>,<n>,<n>;latency=<n>
//	Meridian-Answer-Receipt: <the residency receipt, only when one was asked for>
//
//	<Body, byte for byte>
//
// The members of Meridian-Answer come in this order, each at most once,
// with no white space around them (an id or model may hold a space inside,
// never at an end of the header): the dialect's name (inference.Dialect's String),
// the upstream's id and model (printable ASCII but ';', at most 1024
// bytes, left out when empty), the stop reason (one of inference's four,
// left out when empty), the input, output, cache-read and cache-write token
// counts and the latency in nanoseconds (digits as strconv writes them). A
// Response without Body (a canonical Message), or one whose metadata does
// not fit (an id with non-ASCII, say), or whose Body exceeds 64 MiB, is
// answered as JSON, as is every source that did not ask (a source from
// before the answer form sends no such Accept); a destination from before
// it ignores Accept and answers JSON, which the source reads as it always
// has. The source reads the answer form strictly: one that does not parse
// (a header twice or empty, a member unknown, out of order or malformed, a
// body shorter or longer than its Content-Length) fails as "sent a
// malformed answer", KindUpstream, as malformed JSON does.
// testdata/answer pins the bytes of each kind of answer.
//
// # Forwarded streams
//
// The source sends "Accept: application/vnd.meridian.stream.v1,
// application/x-ndjson; q=0.5, application/json; q=0.5" on every stream it
// forwards (JSON for an error before the first byte).
// A destination that knows stream frames answers a stream in them, with
// Content-Type application/vnd.meridian.stream.v1 ([ContentTypeStreamFrames]);
// one from before them, or any destination not asked for them (a source from
// before them sends no such Accept), answers application/x-ndjson: one
// {"event":...} per line (Raw in base64), ending with {"end":true,
// "receipt":...} or {"error":...}. The source reads whichever Content-Type it
// gets, so a rolling upgrade works both ways.
//
// A framed stream is a sequence of frames (in either form, what is written
// is flushed before the destination waits for its stream's next event, so
// events that arrived together cross in one write and none waits for the
// next):
//
//	frame   = type:byte length:uvarint payload[length]
//	type    = 1 event | 2 end | 3 error
//	event   = kind:byte dialect:byte flags:byte field* raw
//	flags   = bit 0 text, 1 stopReason, 2 usage, 3 id, 4 model, 5 name
//	          (the fields present, in this order; other bits are malformed)
//	field   = len:uvarint bytes             (text, stopReason, id, model, name)
//	        | input output cacheRead cacheWrite, each a zigzag varint (usage)
//	raw     = the rest of the payload: Event.Raw byte for byte (none if empty)
//	end     = the residency receipt, the whole payload (empty: none)
//	error   = the wire error's JSON, as in an error before the first byte
//
// kind and dialect are inference.EventKind and inference.Dialect, the numbers
// NDJSON carries too. Varints are encoding/binary's. A stream ends with one
// end or error frame; one that ends otherwise was cut off.
// testdata/stream-frames pins the bytes of each kind of frame. An upstream
// event crosses with a header of a few bytes and no encoding of Raw: the
// destination writes it from the event, the source hands the event on with
// Raw pointing into its read buffer (valid until the next Recv). The reader
// buffers no more than 17 MiB for one frame (24 MiB for one NDJSON line,
// whose Raw is in base64), above the largest upstream event a backend
// reads, and grows its buffer as bytes arrive rather than as a length
// announces. A frame that does not parse ends the stream as "sent a
// malformed stream", and one that stops short as "was cut off", both
// KindUpstream, as for NDJSON. A destination whose upstream sent an event
// above the bound writes an error frame instead.
//
// Connections (transport.go): the server allows MaxStreamsPerConn streams
// per HTTP/2 connection; the client carries forwarded streams on up to 16
// connections per peer ("lanes", 100 streams each, opened one at a time),
// non-streaming forwards on up to 64 HTTP/1.1 keep-alive connections
// (answers.go; above that many in flight, on the lanes), and probes on a
// connection of its own. A peer is down once nothing has
// come from it for ClientOptions.DownAfter, or after two refusals in a row:
// a peer that is merely busy is not.
package interregion
