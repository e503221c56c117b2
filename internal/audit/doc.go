// Package audit owns Meridian's tamper-evident audit trail: one [Event] per
// request, written by the node of the recording region to append-only JSON
// Lines files in which every event carries the SHA-256 hash of the event
// before it, plus periodic [Digest] files signed with the node's ed25519
// audit key. It also reads the trail back: [Verify] proves that nobody edited,
// deleted, reordered or inserted events, and [Query] answers an auditor's
// questions ("where did requests from eu-west-1 run in November?").
//
// The [Writer] is the only part that does I/O in the request path: the
// gateway builds an [Event] and calls [Writer.Append] before it answers the
// client. A full queue is reported as [ErrBackpressure], never by dropping an
// event (it never drops an event silently; docs/architecture.md, invariant 4).
// A write that fails (a full disk, an I/O error) makes the writer unavailable
// at once ([Writer.Err], [ErrUnavailable]) so that the gateway refuses what it
// could not record; the writer probes, and on recovery writes a gap marker
// (an event with a [Gap]) that [Verify] reports. Streams journal an intent
// with [Writer.Begin] before their first byte, so that a process killed
// mid-stream still leaves one (interrupted) event per request.
//
// The package does not decide what goes into an event (that is the gateway's
// job), does not ship logs anywhere, and never logs prompts, completions or
// credentials: content is stored only when [Config.RecordContent] is set.
//
// The on-disk formats are described in docs/audit.md; in short:
//
//   - Log files are named audit-<region>-<UTC time>-<first sequence>.jsonl.
//     Each line is one event, JSON with keys in [Event]'s field order, ending in
//     "prevHash":"<hex>","hash":"<hex>"}. The hash is the SHA-256 of the line
//     (without the newline) with the hash value emptied, i.e. ending in
//     "hash":""}. The first event of a log has a prevHash of 64 zeros; every
//     other event's prevHash is the hash of the event before it, across files.
//   - Digest files are named digest-<region>-<UTC time>-<digest sequence>.json
//     and hold one JSON object ending in "signature":"<base64>"}; the
//     signature is ed25519 over the object with the signature value emptied.
package audit
