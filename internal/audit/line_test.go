package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sealed returns the log line of event i linked to prevHash, without its
// newline.
func sealed(t testing.TB, e *Event, prevHash string) []byte {
	t.Helper()
	body, err := marshalEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := seal(nil, body, prevHash)
	return bytes.TrimSuffix(line, []byte{'\n'})
}

func TestParseLineRoundTrip(t *testing.T) {
	t.Parallel()
	for i := range 6 {
		e := testEvent(i)
		e.EventVersion, e.Side, e.RecordingRegion = EventVersion, SideSource, testRegion
		line := sealed(t, e, GenesisHash)
		got, err := ParseLine(line)
		if err != nil {
			t.Fatalf("ParseLine(%s) = %v", line, err)
		}
		want := *e
		want.PrevHash, want.Hash = GenesisHash, got.Hash
		if want.Attempts == nil {
			want.Attempts = []Attempt{}
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("ParseLine(seal(event %d)) mismatch (-want +got):\n%s", i, diff)
		}
		// The hash is that of the line with the hash value emptied.
		canonical := strings.Replace(string(line), `"hash":"`+got.Hash+`"}`, `"hash":""}`, 1)
		if h, _, _ := lineHash([]byte(string(line))); h != got.Hash || !strings.HasSuffix(canonical, `"hash":""}`) {
			t.Errorf("hash %s does not match the documented canonical form", got.Hash)
		}
	}
}

func TestEventJSONFields(t *testing.T) {
	t.Parallel()
	line := sealed(t, testEvent(1), GenesisHash)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"eventVersion", "eventId", "eventTime", "eventName", "side", "recordingRegion", "userIdentity",
		"sourceIPAddress", "userAgent", "sourceRegion", "inferenceRegion", "inferenceProfileArn", "modelId", "decision",
		"routeReason", "attempts", "statusCode", "errorCode", "usage", "latencyMs", "ttftMs", "content", "prevHash", "hash"}
	var got []string
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		got = append(got, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event keys (-want +got):\n%s", diff)
	}
	if ts := m["eventTime"]; ts != "2026-11-25T09:00:01.000Z" {
		t.Errorf("eventTime = %v, want RFC 3339 UTC with milliseconds", ts)
	}
}

// FuzzParseLine feeds arbitrary lines to the parsers verify and query use.
// They must not panic; a line ParseLine accepts must be read the same way by
// verify's fast parser, and re-encode to a line it accepts with the same
// event.
func FuzzParseLine(f *testing.F) {
	for i := range 5 {
		f.Add(sealed(f, testEvent(i), GenesisHash))
	}
	f.Add([]byte(`{"hash":""}`))
	f.Add([]byte(`{"prevHash":"` + GenesisHash + `","hash":"` + GenesisHash + `"}`))
	f.Add([]byte(`{"eventVersion":"1.0","eventId":"req-torn","eventTi`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, line []byte) {
		c, cerr := parseChainLine(line)
		e, err := ParseLine(line)
		if err != nil {
			return
		}
		// What verify's fast parser reads agrees with the full decoding.
		if cerr != nil || c.hash != e.Hash || c.prevHash != e.PrevHash || !c.eventTime.Equal(e.EventTime.Time) {
			t.Fatalf("parseChainLine(%q) = %+v, %v; ParseLine = hash %s prev %s time %v", line, c, cerr, e.Hash, e.PrevHash, e.EventTime)
		}
		again := sealed(t, e, e.PrevHash)
		e2, err := ParseLine(again)
		if err != nil {
			t.Fatalf("ParseLine(re-encoded %q) = %v", again, err)
		}
		e.Hash, e2.Hash = "", ""
		e.EventTime.Time = e.EventTime.Truncate(time.Millisecond) // the encoding keeps milliseconds
		if e.Attempts == nil {
			e.Attempts = []Attempt{}
		}
		if diff := cmp.Diff(e, e2); diff != "" {
			t.Fatalf("re-encoding changed the event (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseDigest feeds arbitrary digest files to the parser verify uses: it
// must not panic, and must not accept a signature that is not the key's.
func FuzzParseDigest(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	good, err := signDigest(&Digest{DigestVersion: DigestVersion, Region: testRegion, Sequence: 1, FirstEventSeq: 1, LastEventSeq: 2,
		Files: []FileCoverage{{Name: "audit-x.jsonl", FirstSeq: 1, Lines: 2, Size: 10, SHA256: GenesisHash}}, PreviousDigestHash: GenesisHash}, priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"signature":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseDigest(b, nil)
		if _, _, err := parseDigest(b, []ed25519.PublicKey{other}); err == nil {
			t.Fatalf("parseDigest accepted a signature by another key: %q", b)
		}
	})
}
