package auth

import (
	"context"
	"errors"
)

// ErrUnauthenticatedLimit is returned by reads of a request body while
// its request has not authenticated and its client address already has as
// many unauthenticated body bytes being read as the listener allows.
// Front ends answer it with 429 in their API's shape.
var ErrUnauthenticatedLimit = errors.New("too many unauthenticated request bodies in flight from this address")

// onAuthenticatedKey is the context key of the hook [OnAuthenticated] sets.
type onAuthenticatedKey struct{}

// OnAuthenticated returns a copy of ctx carrying f, which [Authenticated]
// calls when the request authenticates. The listener that admits
// unauthenticated work (package node) installs it: until the request
// proves who it is, it counts against its client address's limits.
func OnAuthenticated(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, onAuthenticatedKey{}, f)
}

// Authenticated tells the hook of ctx, if any, that its request has
// authenticated. Front ends call it as soon as credentials verify, before
// they read the body; [Authenticator.Request] calls it itself. It must be
// called from the handler's goroutine before the response is written.
func Authenticated(ctx context.Context) {
	if f, ok := ctx.Value(onAuthenticatedKey{}).(func()); ok && f != nil {
		f()
	}
}
