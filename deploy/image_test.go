package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is one FROM and the instructions up to the next.
type stage struct {
	image, name string
	ins         []instruction
}

// parseDockerfile is a line parser: comments, parser directives and blank
// lines are skipped and lines ending in a backslash are joined. Heredocs
// are not supported (the Dockerfile uses none).
func parseDockerfile(src string) (stages []stage, global []instruction) {
	var buf strings.Builder
	start := 0
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if buf.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if buf.Len() == 0 {
			start = i + 1
		}
		if strings.HasPrefix(t, "#") { // a comment inside a continued instruction
			continue
		}
		if c, ok := strings.CutSuffix(t, "\\"); ok {
			buf.WriteString(c + " ")
			continue
		}
		buf.WriteString(t)
		cmd, args, _ := strings.Cut(buf.String(), " ")
		buf.Reset()
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{image: f[len(f)-1]}
			for j := range f {
				if strings.EqualFold(f[j], "AS") && j+1 < len(f) {
					s.image, s.name = f[j-1], f[j+1]
				}
			}
			if strings.HasPrefix(s.image, "--") || (len(f) > 1 && s.name == "") {
				s.image = f[len(f)-1]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			global = append(global, in)
			continue
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	return stages, global
}

// execForm parses an exec-form (JSON array) argument, reporting false for
// the shell form.
func execForm(args string) ([]string, bool) {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		return nil, false
	}
	return out, true
}

var (
	urlRE     = regexp.MustCompile(`(?i)\b(https?|git|ssh)://|git@`)
	numericID = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)
)

// checkDockerfile lists what keeps src from building a small, non-root
// image that runs the meridian binary as PID 1.
func checkDockerfile(src string) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, sprintf(format, args...))
	}
	stages, _ := parseDockerfile(src)
	if len(stages) < 2 {
		return []string{"want a multi-stage build (a Go build stage and a minimal final stage)"}
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
		bad("final stage FROM %s: want gcr.io/distroless/static*:nonroot or scratch (no shell, no package manager)", final.image)
	}
	var build *stage
	for i := range stages[:len(stages)-1] {
		if strings.Contains(stages[i].image, "golang") {
			build = &stages[i]
		}
	}
	binary := ""
	if build == nil || build.name == "" {
		bad("no named build stage FROM golang")
	} else {
		for _, in := range build.ins {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, "./cmd/meridian"} {
				if !strings.Contains(in.args, want) {
					bad("line %d: go build without %s", in.line, want)
				}
			}
			if m := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(in.args); m != nil {
				binary = m[1]
			}
		}
		if binary == "" {
			bad("the build stage has no `go build -o <path> ./cmd/meridian`")
		}
	}
	user, copiedBinary := "", false
	var entrypoint []string
	for _, s := range stages {
		for _, in := range s.ins {
			if in.cmd == "ADD" {
				if urlRE.MatchString(in.args) {
					bad("line %d: ADD of a URL: fetch in the build stage with a checked digest, or COPY", in.line)
				} else {
					bad("line %d: use COPY, not ADD (ADD unpacks archives and fetches URLs)", in.line)
				}
			}
		}
	}
	for _, in := range final.ins {
		switch in.cmd {
		case "USER":
			user = in.args
		case "COPY":
			f := strings.Fields(in.args)
			from := ""
			for _, a := range f {
				if v, ok := strings.CutPrefix(a, "--from="); ok {
					from = v
				}
			}
			if from == "" {
				bad("line %d: the final stage copies from the build context; copy only from the build stage", in.line)
			}
			if build != nil && from == build.name && len(f) >= 2 && f[len(f)-2] == binary && f[len(f)-1] == "/meridian" {
				copiedBinary = true
			}
		case "ENTRYPOINT":
			var ok bool
			if entrypoint, ok = execForm(in.args); !ok {
				bad("line %d: ENTRYPOINT in shell form: /bin/sh would be PID 1 and swallow SIGTERM; use the exec form", in.line)
			}
		case "CMD":
			if _, ok := execForm(in.args); !ok {
				bad("line %d: CMD in shell form; use the exec form", in.line)
			}
		case "RUN":
			bad("line %d: RUN in the final stage (it has no shell)", in.line)
		}
	}
	switch {
	case user == "":
		bad("the final stage sets no USER: the image would run as root")
	case !numericID.MatchString(user):
		bad("USER %s: use a numeric uid[:gid] so that runAsNonRoot can verify it", user)
	default:
		for p := range strings.SplitSeq(user, ":") {
			if n, _ := strconv.Atoi(p); n == 0 {
				bad("USER %s: runs as root", user)
			}
		}
	}
	if !copiedBinary {
		bad("the final stage does not copy the build stage's %s to /meridian", cmpOr(binary, "binary"))
	}
	if !slices.Equal(entrypoint, []string{"/meridian"}) {
		bad(`ENTRYPOINT = %q, want ["/meridian"]`, entrypoint)
	}
	return problems
}

func sprintf(format string, args ...any) string {
	return strings.TrimSpace(fmt.Sprintf(format, args...))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDockerfile checks the repository's Dockerfile: Docker does not run
// here, so this is what keeps it honest.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfile(string(src)) {
		t.Errorf("Dockerfile: %s", p)
	}

	// The build image's Go is the one go.mod asks for.
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	got := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindSubmatch(src)
	if want == nil || got == nil || string(got[1]) != string(want[1]) {
		t.Errorf("Dockerfile ARG GO_VERSION = %q, want go.mod's go %q", got, want)
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(ignore)), ".git") {
		t.Error(".dockerignore does not exclude .git")
	}
}

// TestCheckDockerfile shows that the checker catches what it is for.
func TestCheckDockerfile(t *testing.T) {
	t.Parallel()
	const good = `# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w" -o /out/meridian ./cmd/meridian
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/meridian /meridian
USER 65532:65532
ENTRYPOINT ["/meridian"]
CMD ["help"]
`
	if p := checkDockerfile(good); len(p) != 0 {
		t.Fatalf("checkDockerfile(good) = %q, want no problem", p)
	}
	tests := []struct{ name, from, to, want string }{
		{"root user", "USER 65532:65532", "USER 0", "runs as root"},
		{"named user", "USER 65532:65532", "USER nonroot", "numeric uid"},
		{"no user", "USER 65532:65532\n", "", "sets no USER"},
		{"add url", "COPY . .", "ADD https://example.com/x.tgz /x", "ADD of a URL"},
		{"shell entrypoint", `ENTRYPOINT ["/meridian"]`, "ENTRYPOINT /meridian", "shell form"},
		{"no trimpath", "-trimpath ", "", "without -trimpath"},
		{"cgo", "CGO_ENABLED=0 ", "", "without CGO_ENABLED=0"},
		{"other package", "./cmd/meridian", "./cmd/other", "without ./cmd/meridian"},
		{"fat base", "gcr.io/distroless/static-debian12:nonroot", "debian:12", "final stage FROM debian:12"},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/meridian /meridian\n", "", "multi-stage"},
		{"context copy", "COPY --from=build /out/meridian /meridian", "COPY meridian /meridian", "copies from the build context"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(good, tc.from, tc.to, 1)
			p := checkDockerfile(src)
			if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("checkDockerfile(%s) = %q, want a problem containing %q", tc.name, p, tc.want)
			}
		})
	}
}

// TestBinaryDependencies checks what the image's binary links: not the Helm
// SDK or Kubernetes client code (test-only modules), and no package that
// starts processes besides the AWS SDK's credential_process support (and
// the bench's upstream process, which serve never starts), so
// `meridian serve` needs no init process to reap children as PID 1.
func TestBinaryDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../cmd/meridian").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// The AWS SDK's credential_process, and meridian bench's upstream
	// process (--upstream-process), which the bench waits for itself and
	// which `meridian serve` never starts.
	allowedExec := []string{"github.com/aws/aws-sdk-go-v2/credentials/processcreds", "github.com/meridian-gateway/meridian/bench"}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg := f[0]
		for _, banned := range []string{"helm.sh/", "k8s.io/", "sigs.k8s.io/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("meridian links %s (a test-only module)", pkg)
			}
		}
		if slices.Contains(f[1:], "os/exec") && !slices.Contains(allowedExec, pkg) {
			t.Errorf("%s imports os/exec: a child process of PID 1 needs reaping; check docs/operations.md (Kubernetes) and this list", pkg)
		}
	}
}
