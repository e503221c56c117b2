package ui_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/meridian-gateway/meridian/internal/demo"
	"github.com/meridian-gateway/meridian/internal/demo/demotest"
	"github.com/meridian-gateway/meridian/internal/testenv"
)

// TestConsoleInBrowser drives the console of a loopback demo in headless
// Chromium: sign in, see the map, flows and feed under load, take a region
// down from the console and watch traffic leave it, and check residency.
// It asserts on the DOM, never on pixels; screenshots are saved as
// artifacts ($MERIDIAN_TEST_ARTIFACTS, else a temporary directory).
// With MERIDIAN_CONSOLE_SCREENSHOT=FILE it also writes the README's
// 1280x800 screenshot there.
func TestConsoleInBrowser(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium", "/usr/bin/chromium", "chromium-browser")
	artifacts := artifactDir(t)

	// A hang guard, not a speed assertion.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	d := demotest.Start(t, ctx)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var loadWG sync.WaitGroup
	loadWG.Go(func() { d.Load(loadCtx, demo.LoadOptions{Rate: 12, Seed: 1}) })
	defer func() { stopLoad(); loadWG.Wait() }()

	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("force-color-profile", "srgb"), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	listen := func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				report("console.%s: %s", ev.Type, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			desc := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				desc += " " + ev.ExceptionDetails.Exception.Description
			}
			report("uncaught exception: %s (%s:%d)", desc, ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				report("browser log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if !loopbackURL(ev.Request.URL) {
				report("request to a non-loopback host: %s", ev.Request.URL)
			}
		}
	}
	if err := chromedp.Listen(bctx, listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	console := "http://" + d.Node("eu-west-1").ClientAddr() + "/ui/"
	step(t, bctx, "open the console and sign in",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(console),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), d.APIKey),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	waitJS(t, bctx, "the map and at least three region markers", `document.querySelectorAll('#map #land path').length > 10 && document.querySelectorAll('#map g.region').length >= 3`)
	waitJS(t, bctx, "flow arcs", `document.querySelectorAll('#flows path.flow').length >= 2`)
	feedBefore := firstFeedRow(t, bctx)
	waitJS(t, bctx, "the request feed to update", fmt.Sprintf(`(() => { const r = document.querySelector('#feed tbody tr'); return !!r && r.dataset.requestId !== %q; })()`, feedBefore))
	screenshot(t, bctx, artifacts, "1-live.png")

	// Explain one request from the feed.
	step(t, bctx, "open a request's record", chromedp.Click(chromedp.CSS("#feed tbody tr")))
	waitJS(t, bctx, "the request's record and audit event", `document.getElementById('detail').open && document.getElementById('detail-why').textContent.startsWith('Entered in') && document.getElementById('detail-event').textContent.includes('"eventId"') && document.querySelectorAll('#detail-attempts tbody tr').length >= 1`)
	screenshot(t, bctx, artifacts, "2-request.png")
	step(t, bctx, "close the record", chromedp.Click(chromedp.ID("detail-close")))

	// Take the viewed node's own region down from the console: its feed
	// then shows requests served elsewhere.
	const down = "eu-west-1"
	waitJS(t, bctx, "traffic into "+down, fmt.Sprintf(`document.querySelectorAll('#flows path.flow[data-destination=%q]').length > 0`, down))
	step(t, bctx, "take "+down+" down", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#demo-regions [data-region=%q] button.down`, down))))
	waitJS(t, bctx, "the operator action on the marker", fmt.Sprintf(`document.querySelector('#map g.region[data-region=%q]').dataset.action === 'down'`, down))
	waitJS(t, bctx, "the marker to leave the healthy state", fmt.Sprintf(`document.querySelector('#map g.region[data-region=%q]').dataset.status !== 'ok'`, down))
	waitJS(t, bctx, "traffic entering "+down+" to be served elsewhere", fmt.Sprintf(`[...document.querySelectorAll('#flows path.flow[data-source=%q]')].some(p => p.dataset.destination !== %q)`, down, down))
	waitJS(t, bctx, "the feed to show requests that entered "+down+" served elsewhere", fmt.Sprintf(`[...document.querySelectorAll('#feed tbody tr td:nth-child(5)')].some(td => td.textContent.startsWith(%q) && !td.textContent.endsWith(%q))`, down+" →", "→ "+down))
	screenshot(t, bctx, artifacts, "3-region-down.png")
	waitJS(t, bctx, "no more flows into "+down+" (10 s rate window)", fmt.Sprintf(`document.querySelectorAll('#flows path.flow[data-destination=%q]').length === 0`, down))
	if out := os.Getenv("MERIDIAN_CONSOLE_SCREENSHOT"); out != "" {
		screenshotTo(t, bctx, out) // the README's picture: a region down, its traffic shifted
	}

	// Residency: every cell of a geographic profile is on the diagonal.
	violations := eval[string](t, bctx, `document.getElementById('res-badge').dataset.violations`)
	cells := eval[int](t, bctx, `document.querySelectorAll('#residency td[data-violation="true"]').length`)
	if violations != "0" || cells != 0 {
		t.Errorf("residency panel: %s violations, %d violating cells; want none", violations, cells)
	}

	step(t, bctx, "restore "+down, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#demo-regions [data-region=%q] button.restore`, down))))
	waitJS(t, bctx, "the marker's operator action to clear", fmt.Sprintf(`document.querySelector('#map g.region[data-region=%q]').dataset.action === 'normal'`, down))

	// Throttle another region: its deployments cool down (429 with
	// Retry-After) and its marker leaves the healthy state.
	const throttled = "us-east-1"
	step(t, bctx, "throttle "+throttled, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#demo-regions [data-region=%q] button.throttle`, throttled))))
	waitJS(t, bctx, "the throttled marker", fmt.Sprintf(`(m => m.dataset.action === 'throttled' && m.dataset.status !== 'ok')(document.querySelector('#map g.region[data-region=%q]'))`, throttled))
	waitJS(t, bctx, "a cooldown in the deployments panel", fmt.Sprintf(`[...document.querySelectorAll('#deployments tr[data-deployment^=%q] td:last-child')].some(td => td.textContent.endsWith(' s'))`, throttled+"/"))
	step(t, bctx, "restore "+throttled, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#demo-regions [data-region=%q] button.restore`, throttled))))

	eval[bool](t, bctx, `document.getElementById('deployments').scrollIntoView(), true`)
	capture(t, bctx, filepath.Join(artifacts, "5-deployments.png"))

	// A narrow screen: no horizontal scrolling, the map still drawn.
	step(t, bctx, "switch to a narrow screen", chromedp.EmulateViewport(390, 844))
	waitJS(t, bctx, "a narrow layout without horizontal overflow", `document.documentElement.scrollWidth <= window.innerWidth + 1 && document.getElementById('map').getBoundingClientRect().width <= window.innerWidth`)
	screenshot(t, bctx, artifacts, "4-narrow.png")

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript condition holds: the page evaluates it
// at once and again at every DOM mutation (a MutationObserver, through
// chromedp.Poll), so the wait ends on the change it waits for, with no
// polling period. A condition that throws (an element not drawn yet)
// counts as false. The timeout is a hang guard for a loaded machine, not a
// speed requirement.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	cond := fmt.Sprintf(`(() => { try { return !!(%s); } catch (e) { return false; } })()`, expr)
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(waitHangGuard)))
	if err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
		t.Fatalf("waiting for %s: condition %s never held (%v)\npage text:\n%s", what, expr, err, body)
	}
}

// waitHangGuard bounds one waitJS.
const waitHangGuard = 90 * time.Second

func firstFeedRow(t *testing.T, ctx context.Context) string {
	t.Helper()
	waitJS(t, ctx, "the request feed", `document.querySelectorAll('#feed tbody tr').length >= 1`)
	return eval[string](t, ctx, `document.querySelector('#feed tbody tr').dataset.requestId`)
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	screenshotTo(t, ctx, filepath.Join(dir, name))
}

func screenshotTo(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	eval[bool](t, ctx, `window.scrollTo(0, 0), true`)
	capture(t, ctx, path)
}

func capture(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func artifactDir(t *testing.T) string {
	if d := os.Getenv("MERIDIAN_TEST_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, "ui-browser")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// loopbackURL reports whether u stays on this machine (or is inline data).
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch p.Scheme {
	case "data", "blob", "about", "chrome", "devtools":
		return true
	}
	h := p.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
