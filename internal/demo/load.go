package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// LoadOptions configure the demo's load generator.
type LoadOptions struct {
	// Rate is requests per second across all source regions. If zero, 5.
	Rate float64
	// Requests stops the generator after this many requests; zero means
	// until ctx ends.
	Requests int
	// MaxInFlight bounds concurrent requests; a tick that finds it
	// reached sends nothing. If zero, 16.
	MaxInFlight int
	// Seed makes the mix of profiles and sources reproducible.
	Seed   uint64
	Logger *slog.Logger
}

// LoadStats counts what the generator did.
type LoadStats struct {
	Sent, Succeeded, Failed, Skipped int64
}

// loadRoute is a profile invoked from a source region, with its weight in
// the mix.
type loadRoute struct {
	Source, Profile string
	Weight          int
}

// loadMix sends each geography's traffic from its own regions, plus global
// and application-profile traffic, so that every region has inbound flows
// and a region taken down visibly sheds them to its neighbours.
var loadMix = []loadRoute{
	{"eu-west-1", "eu.demo.chat-small", 3},
	{"eu-central-1", "eu.demo.chat-small", 2},
	{"eu-west-1", "claims-eu", 2},
	{"eu-west-1", "global.demo.chat-large", 1},
	{"eu-central-1", "eu.demo.chat-large", 1},
	{"us-east-1", "us.demo.chat-small", 3},
	{"us-west-2", "us.demo.chat-small", 3},
	{"us-west-2", "global.demo.chat-small", 1},
	{"ap-northeast-1", "apac.demo.chat-small", 2},
	{"ap-southeast-2", "apac.demo.chat-small", 3},
	{"ap-southeast-2", "global.demo.chat-small", 1},
	{"us-east-1", "global.demo.chat-large", 1},
}

var loadPrompts = []string{
	"Summarise this claim in one sentence.",
	"Translate 'good morning' into German.",
	"Name three rivers in Europe.",
	"What is the capital of Australia?",
	"Write a haiku about latency.",
}

// Load runs the demo's load generator: a bounded stream of chat
// completions from several source regions with a mix of geographic,
// global and application profiles. It returns when ctx ends or after
// opts.Requests requests, once every request it sent has finished (those
// in flight when ctx ends are allowed to finish).
func (d *Demo) Load(ctx context.Context, opts LoadOptions) (LoadStats, error) {
	if opts.Rate <= 0 {
		opts.Rate = 5
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 16
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	endpoints := map[string]string{}
	total := 0
	for _, r := range loadMix {
		n := d.Node(r.Source)
		if n == nil {
			return LoadStats{}, fmt.Errorf("load: region %s is not in the demo", r.Source)
		}
		endpoints[r.Source] = "http://" + n.ClientAddr() + "/v1/chat/completions"
		total += r.Weight
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6d657269))
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		st       LoadStats
		sent     atomic.Int64
		wg       sync.WaitGroup
		inFlight = make(chan struct{}, opts.MaxInFlight)
	)
	defer wg.Wait()
	t := d.clock.NewTicker(time.Duration(float64(time.Second) / opts.Rate))
	defer t.Stop()
	for opts.Requests == 0 || int(sent.Load()) < opts.Requests {
		select {
		case <-ctx.Done():
			wg.Wait()
			return loadStats(&st, sent.Load()), nil
		case <-t.C():
		}
		select {
		case inFlight <- struct{}{}:
		default:
			atomic.AddInt64(&st.Skipped, 1)
			continue
		}
		route := pick(rng, total)
		prompt := loadPrompts[rng.IntN(len(loadPrompts))]
		stream := rng.IntN(4) == 0
		sent.Add(1)
		wg.Go(func() {
			defer func() { <-inFlight }()
			// A request already sent finishes even when ctx ends (the
			// client's timeout bounds it): stopping the demo then drains
			// instead of cutting streams off.
			err := send(context.WithoutCancel(ctx), client, endpoints[route.Source], d.APIKey, route.Profile, prompt, stream)
			if err != nil {
				atomic.AddInt64(&st.Failed, 1)
				if ctx.Err() == nil {
					opts.Logger.Debug("demo load request failed", telemetry.AttrSourceRegion, route.Source, telemetry.AttrProfile, route.Profile, telemetry.AttrError, err)
				}
				return
			}
			atomic.AddInt64(&st.Succeeded, 1)
		})
	}
	wg.Wait()
	return loadStats(&st, sent.Load()), nil
}

func loadStats(st *LoadStats, sent int64) LoadStats {
	return LoadStats{Sent: sent, Succeeded: atomic.LoadInt64(&st.Succeeded), Failed: atomic.LoadInt64(&st.Failed), Skipped: atomic.LoadInt64(&st.Skipped)}
}

func pick(rng *rand.Rand, total int) loadRoute {
	n := rng.IntN(total)
	for _, r := range loadMix {
		if n < r.Weight {
			return r
		}
		n -= r.Weight
	}
	return loadMix[len(loadMix)-1]
}

// send makes one chat completion and reads the whole answer.
func send(ctx context.Context, client *http.Client, url, key, model, prompt string, stream bool) error {
	body, _ := json.Marshal(map[string]any{
		"model": model, "stream": stream, "max_tokens": 24,
		"messages": []map[string]string{{"role": "user", "content": prompt}},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "meridian-demo-load")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("read answer of %s: %w", model, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", model, resp.StatusCode)
	}
	return nil
}

// throttleRetryAfter is the Retry-After a throttled demo region answers.
const throttleRetryAfter = 5 * time.Second

var _ ui.DemoControl = (*Demo)(nil)

// Operate implements [ui.DemoControl]: it takes every simulated backend of
// region down, throttles it, or restores it.
func (d *Demo) Operate(region string, a ui.Action) error {
	n := d.Node(region)
	if n == nil {
		return fmt.Errorf("region %q: %w", region, ui.ErrUnknownRegion)
	}
	for model, b := range n.Backends() {
		m, ok := b.(*backend.Mock)
		if !ok {
			return fmt.Errorf("region %s model %s: not a simulated backend", region, model)
		}
		s := m.Server()
		switch a {
		case ui.ActionDown:
			s.SetThrottled(0)
			s.SetDown(true)
		case ui.ActionThrottle:
			s.SetDown(false)
			s.SetThrottled(throttleRetryAfter)
		default:
			s.SetDown(false)
			s.SetThrottled(0)
		}
	}
	return nil
}

// Actions implements [ui.DemoControl]: a region is down or throttled when
// any of its simulated backends is.
func (d *Demo) Actions() map[string]ui.Action {
	out := map[string]ui.Action{}
	for _, n := range d.Nodes {
		a := ui.ActionRestore
		for _, b := range n.Backends() {
			m, ok := b.(*backend.Mock)
			if !ok {
				continue
			}
			switch st := m.Server().State(); {
			case st.Down:
				a = ui.ActionDown
			case st.Throttle > 0 && a != ui.ActionDown:
				a = ui.ActionThrottle
			}
		}
		out[n.Region().ID] = a
	}
	return out
}
