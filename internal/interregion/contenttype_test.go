package interregion

import (
	"mime"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestClientBodyParams: the media type and parameters requestOf reads are
// mime.ParseMediaType's for every form, and the form nodes write costs no
// allocation.
func TestClientBodyParams(t *testing.T) {
	for _, ct := range []string{
		bodyContentType(inference.DialectOpenAIChat),
		bodyContentType(inference.DialectConverse),
		ContentTypeClientBody,
		ContentTypeClientBody + "; dialect=",
		ContentTypeClientBody + "; dialect=\"openai\"",
		ContentTypeClientBody + "; dialect=openai; stream=true",
		ContentTypeClientBody + "; DIALECT=OpenAI",
		ContentTypeClientBody + ";dialect=openai",
		ContentTypeClientBody + "; dialect=open ai",
		ContentTypeClientBody + "; dialect=openai;",
		"APPLICATION/VND.MERIDIAN.CLIENT-BODY+JSON; dialect=openai",
		"application/json",
		"",
		"garbage;;",
	} {
		mt, dialect, stream := clientBodyParams(ct)
		wmt, params, _ := mime.ParseMediaType(ct)
		if mt != wmt || dialect != params["dialect"] || stream != params["stream"] {
			t.Errorf("clientBodyParams(%q) = %q, %q, %q; want %q, %q, %q", ct, mt, dialect, stream, wmt, params["dialect"], params["stream"])
		}
	}
	for d := range inference.Dialect(10) {
		if got, want := bodyContentType(d), ContentTypeClientBody+"; dialect="+d.String(); got != want {
			t.Errorf("bodyContentType(%v) = %q, want %q", d, got, want)
		}
	}
	ct := bodyContentType(inference.DialectOpenAIChat)
	if n := testing.AllocsPerRun(100, func() { clientBodyParams(ct) }); n != 0 {
		t.Errorf("clientBodyParams(%q) allocates %v times, want 0", ct, n)
	}
}

// FuzzClientBodyParams holds clientBodyParams to mime.ParseMediaType on
// any Content-Type a peer may send.
func FuzzClientBodyParams(f *testing.F) {
	f.Add(bodyContentType(inference.DialectOpenAIChat))
	f.Add(ContentTypeClientBody + "; dialect=openai; stream=true")
	f.Add(ContentTypeClientBody + "; dialect=\"x\"")
	f.Add("application/json")
	f.Fuzz(func(t *testing.T, ct string) {
		mt, dialect, stream := clientBodyParams(ct)
		wmt, params, _ := mime.ParseMediaType(ct)
		if mt != wmt || dialect != params["dialect"] || stream != params["stream"] {
			t.Errorf("clientBodyParams(%q) = %q, %q, %q; want %q, %q, %q", ct, mt, dialect, stream, wmt, params["dialect"], params["stream"])
		}
	})
}
