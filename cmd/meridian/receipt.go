package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

func init() {
	register("receipt", "verify a residency receipt offline against the link CA (verify)", runReceipt)
}

const receiptUsage = "usage: meridian receipt verify RECEIPT --ca BUNDLE [--request FILE] [--response FILE] [--json]"

func runReceipt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("receipt needs a subcommand: verify RECEIPT --ca BUNDLE")
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, receiptUsage+" (meridian receipt verify -h for its flags)")
		return errHelpShown
	}
	if args[0] != "verify" {
		return usageError("unknown receipt subcommand %q (want verify)", args[0])
	}
	return runReceiptVerify(args[1:], time.Now(), stdout, stderr)
}

// runReceiptVerify checks a receipt at time now. It exits 0 when the
// receipt verifies (and the given request and response match it), 1 when
// it does not (the reason on stdout), 2 for bad arguments.
func runReceiptVerify(args []string, now time.Time, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("receipt verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, receiptUsage)
		fmt.Fprintln(stderr, "RECEIPT is a file holding the receipt (the x-meridian-receipt value), or - for standard input.")
		fs.PrintDefaults()
	}
	caFile := fs.String("ca", "", "PEM bundle of the link CA certificates (from your administrator, or GET /meridian/v1/trust checked against a fingerprint you got out of band); required")
	reqFile := fs.String("request", "", "the request body exactly as sent; checks request_sha256")
	respFile := fs.String("response", "", "the response body as received (answer_form body), or the concatenated text of a stream (answer_form text); checks answer_sha256")
	asJSON := fs.Bool("json", false, "print the verified claims as JSON")
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return errHelpShown
		} else if err != nil {
			return usageError("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usageError("receipt verify needs exactly one RECEIPT argument (a file, or - for standard input), got %d", len(pos))
	}
	path := pos[0]
	if *caFile == "" {
		return usageError("receipt verify needs --ca BUNDLE: the link CA certificates (PEM) the receipt must chain to")
	}
	cas, err := pki.ReadCertificates(*caFile)
	if err != nil {
		return usageError("--ca %s: %v", *caFile, err)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	token, err := readReceipt(path)
	if err != nil {
		return usageError("%v", err)
	}
	var req, resp []byte
	if *reqFile != "" {
		if req, err = os.ReadFile(*reqFile); err != nil {
			return usageError("--request: %v", err)
		}
	}
	if *respFile != "" {
		if resp, err = os.ReadFile(*respFile); err != nil {
			return usageError("--response: %v", err)
		}
	}

	claims, err := receipt.Verify(token, roots, now)
	if err != nil {
		fmt.Fprintf(stdout, "receipt: INVALID: %v\n", err)
		return errSilentFailure
	}
	var mismatches []string
	if req != nil {
		if err := claims.CheckRequest(req); err != nil {
			mismatches = append(mismatches, err.Error())
		}
	}
	if resp != nil {
		if err := claims.CheckAnswer(resp); err != nil {
			mismatches = append(mismatches, err.Error())
		}
	}
	if *asJSON {
		out := struct {
			Valid bool `json:"valid"`
			*receipt.Claims
			IssuedAt   string   `json:"issued_at"`
			Mismatches []string `json:"mismatches,omitempty"`
		}{len(mismatches) == 0, claims, claims.IssuedAt.UTC().Format(time.RFC3339), mismatches}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printClaims(stdout, claims, req != nil, resp != nil, mismatches)
	}
	if len(mismatches) > 0 {
		return errSilentFailure
	}
	return nil
}

// readReceipt reads a receipt from path ("-": standard input), bounded.
func readReceipt(path string) (string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read receipt: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, receipt.MaxTokenBytes+2))
	if err != nil {
		return "", fmt.Errorf("read receipt %s: %w", path, err)
	}
	s := strings.TrimSpace(string(b))
	// Accept a header line as copied from curl -i.
	if name, v, ok := strings.Cut(s, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "x-meridian-receipt") {
		s = strings.TrimSpace(v)
	}
	if s == "" {
		return "", fmt.Errorf("receipt %s is empty", path)
	}
	return s, nil
}

func printClaims(w io.Writer, c *receipt.Claims, checkedReq, checkedResp bool, mismatches []string) {
	status := "VALID"
	if len(mismatches) > 0 {
		status = "VALID SIGNATURE, HASH MISMATCH"
	}
	fmt.Fprintf(w, "receipt: %s: inference ran in %s, signed with its link certificate\n", status, c.InferenceRegion)
	row := func(k, v string) { fmt.Fprintf(w, "  %-17s %s\n", k+":", v) }
	row("request id", c.RequestID)
	row("issued at", c.IssuedAt.UTC().Format(time.RFC3339))
	row("profile", c.ProfileARN)
	row("model", c.Model)
	row("source region", c.SourceRegion)
	row("inference region", c.InferenceRegion)
	row("usage", fmt.Sprintf("%d input tokens, %d output tokens", c.Usage.InputTokens, c.Usage.OutputTokens))
	row("request sha256", c.RequestSHA256+checked(checkedReq, mismatches, "request"))
	row("answer sha256", c.AnswerSHA256+" ("+c.AnswerForm.String()+")"+checked(checkedResp, mismatches, "answer"))
	if c.Audit.Hash == "" {
		row("audit event", "none: "+c.InferenceRegion+" keeps no audit trail (audit.disabled)")
	} else {
		row("audit event", c.Audit.EventID+" hash "+c.Audit.Hash)
	}
	for _, m := range mismatches {
		fmt.Fprintf(w, "  MISMATCH: %s\n", m)
	}
	if c.Audit.Hash == "" {
		return
	}
	fmt.Fprintf(w, "  (check the audit event with: meridian audit verify DIR --receipt RECEIPT, DIR being %s's audit log;\n"+
		"   a fresh receipt's event is in the unsealed tail until the next digest: add --allow-unsealed, or verify after the next digest, or it exits 1)\n", c.InferenceRegion)
}

func checked(done bool, mismatches []string, what string) string {
	if !done {
		return " (not checked: pass --" + map[string]string{"request": "request", "answer": "response"}[what] + ")"
	}
	for _, m := range mismatches {
		if strings.HasPrefix(m, receipt.ErrMismatch.Error()+": "+what) {
			return " MISMATCH"
		}
	}
	return " matches"
}

// receiptCheck is `audit verify --receipt FILE [--ca BUNDLE]`: it finds the
// receipt's audit event in the verified log of the receipt's inference
// region.
type receiptCheck struct {
	file, ca string
	claims   *receipt.Claims
	found    bool // an intact log of the receipt's region was verified
}

func (rc *receiptCheck) flags(fs *flag.FlagSet) {
	fs.StringVar(&rc.file, "receipt", "", "a residency receipt: check that its audit event is in the verified log of its inference region")
	fs.StringVar(&rc.ca, "ca", "", "with --receipt: the link CA bundle (PEM) to verify the receipt's signature with; without it only the event is checked")
}

// load reads and (given --ca) verifies the receipt.
func (rc *receiptCheck) load(stderr io.Writer) error {
	if rc.file == "" {
		if rc.ca != "" {
			return usageError("--ca is only used with --receipt")
		}
		return nil
	}
	token, err := readReceipt(rc.file)
	if err != nil {
		return usageError("%v", err)
	}
	if rc.ca == "" {
		t, err := receipt.Parse(token)
		if err != nil {
			return usageError("--receipt %s: %v", rc.file, err)
		}
		rc.claims = &t.Claims
		fmt.Fprintln(stderr, "note: the receipt's signature is not checked; pass --ca BUNDLE, or run meridian receipt verify")
		return nil
	}
	cas, err := pki.ReadCertificates(rc.ca)
	if err != nil {
		return usageError("--ca %s: %v", rc.ca, err)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	if rc.claims, err = receipt.Verify(token, roots, time.Now()); err != nil {
		// The receipt itself is bad: a finding (exit 1), not a usage error.
		return fmt.Errorf("--receipt %s: %w", rc.file, err)
	}
	return nil
}

// check looks for the receipt's event in dir, the verified log of region;
// it reports false when the event is not there.
func (rc *receiptCheck) check(dir, region string, keys []ed25519.PublicKey, stdout io.Writer) bool {
	if rc.claims == nil || region != rc.claims.InferenceRegion {
		return true
	}
	rc.found = true
	c := rc.claims
	if c.Audit.Hash == "" {
		fmt.Fprintf(stdout, "  receipt: NOT IN LOG: the receipt names no audit event (%s kept no audit trail when it signed)\n", c.InferenceRegion)
		return false
	}
	_, ev, err := audit.FindReceiptEvent(dir, c.Audit.EventID, c.Audit.Hash, c.InferenceRegion, keys...)
	if err != nil {
		fmt.Fprintf(stdout, "  receipt: NOT IN LOG: %v\n", err)
		return false
	}
	cover := "covered by a signed digest"
	if !ev.Covered {
		cover = "chained but after the newest digest (not yet signed; verify again after the next digest)"
	}
	fmt.Fprintf(stdout, "  receipt: event %s with hash %s is event %d of the verified log (%s:%d), %s\n",
		c.Audit.EventID, c.Audit.Hash, ev.Seq, ev.File, ev.Line, cover)
	return true
}

// done reports false when a receipt was given but no verified log was of
// its inference region.
func (rc *receiptCheck) done(stdout io.Writer) bool {
	if rc.claims == nil || rc.found {
		return true
	}
	fmt.Fprintf(stdout, "receipt: NOT CHECKED: no intact log of region %s was verified here (pass the audit directory of %s)\n", rc.claims.InferenceRegion, rc.claims.InferenceRegion)
	return false
}
