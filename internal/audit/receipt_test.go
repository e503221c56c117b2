package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestAppendHashedAndFindReceiptEvent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), nil)
	dir := filepath.Join(root, testRegion)
	hashes := map[string]string{}
	for i := range 7 {
		if i == 6 {
			if err := w.Digest(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		e := testEvent(i)
		h, err := w.AppendHashed(context.Background(), e)
		if err != nil {
			t.Fatalf("AppendHashed(%d): %v", i, err)
		}
		hashes[e.EventID] = h
	}
	for _, e := range readEvents(t, dir) {
		if hashes[e.EventID] != e.Hash {
			t.Fatalf("AppendHashed(%s) = %s, the log says %s", e.EventID, hashes[e.EventID], e.Hash)
		}
	}
	pub := w.PublicKey()

	tests := []struct {
		name, id, hash, region string
		wantCovered            bool
		want                   error
	}{
		{name: "digested event", id: "req-000003", hash: hashes["req-000003"], region: testRegion, wantCovered: true},
		{name: "event after the newest digest", id: "req-000006", hash: hashes["req-000006"], region: testRegion},
		{name: "unknown hash", id: "req-000003", hash: hashes["req-000003"][:63] + "0", region: testRegion, want: ErrReceiptEvent},
		{name: "hash of another event", id: "req-000003", hash: hashes["req-000000"], region: testRegion, want: ErrReceiptEvent},
		{name: "event where inference ran elsewhere", id: "req-000001", hash: hashes["req-000001"], region: testRegion, want: ErrReceiptEvent},
		{name: "log of another region", id: "req-000003", hash: hashes["req-000003"], region: "eu-central-1", want: ErrReceiptEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := FindReceiptEvent(dir, tc.id, tc.hash, tc.region, pub)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("FindReceiptEvent(%s, %s) error = %v, want %v", tc.id, tc.hash, err, tc.want)
			}
			if err != nil {
				return
			}
			if got.Event.EventID != tc.id || got.Covered != tc.wantCovered {
				t.Errorf("FindReceiptEvent(%s) = event %s covered %v, want %s covered %v", tc.id, got.Event.EventID, got.Covered, tc.id, tc.wantCovered)
			}
		})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// An edited log does not vouch for any receipt.
	logs, _, err := listDir(dir)
	if err != nil || len(logs) == 0 {
		t.Fatalf("listDir: %v, %d logs", err, len(logs))
	}
	p := filepath.Join(dir, logs[0].name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte("curl/8.5.0"), []byte("curl/8.5.1"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = FindReceiptEvent(dir, "req-000003", hashes["req-000003"], testRegion, pub)
	var te *TamperError
	if !errors.As(err, &te) {
		t.Fatalf("FindReceiptEvent(edited log) error = %v, want a *TamperError", err)
	}
}
