package auth

import "context"

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
