package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// notifySignals wires the process signals:
//   - SIGINT and SIGTERM end the returned context: `serve` drains (readiness
//     off for server.drain_grace, then in-flight requests finish for up to
//     server.drain_timeout). A second SIGINT or SIGTERM terminates at once:
//     after the first, the default disposition is restored.
//   - SIGHUP is delivered to the context's reload channel (see
//     [reloadRequests]); `serve` reloads its topology file. It never
//     terminates the process, whatever the verb.
//
// stop releases the signals.
func notifySignals(parent context.Context) (ctx context.Context, stop func()) {
	// term is not the named result: the goroutine must not read ctx while
	// the return statement writes it.
	term, stopTerm := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		<-term.Done()
		stopTerm() // a second SIGINT or SIGTERM now forces the exit
	}()
	return withReloadRequests(term, hup), func() {
		stopTerm()
		signal.Stop(hup)
	}
}

type reloadKey struct{}

// withReloadRequests attaches the channel on which reload requests (SIGHUP)
// arrive.
func withReloadRequests(ctx context.Context, ch <-chan os.Signal) context.Context {
	return context.WithValue(ctx, reloadKey{}, ch)
}

// reloadRequests returns the channel of reload requests, or nil (which
// never delivers) when the process does not take them.
func reloadRequests(ctx context.Context) <-chan os.Signal {
	ch, _ := ctx.Value(reloadKey{}).(<-chan os.Signal)
	return ch
}
