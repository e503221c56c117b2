package quota

import (
	"context"
	"fmt"
	"time"
)

// SetCooldown marks key (a deployment key) as cooling down for d, for every
// replica sharing the store. A longer cooldown in place is kept.
func (l *Limiter) SetCooldown(ctx context.Context, key string, d time.Duration) error {
	return l.do(ctx, "cooldown", func(ctx context.Context) error { return l.store.SetCooldown(ctx, key, d) })
}

// Cooldowns returns the remaining cooldown of each of keys that is cooling
// down, in one store round trip. Routing can call it per decision or poll
// it; keys not cooling down are absent.
func (l *Limiter) Cooldowns(ctx context.Context, keys []string) (map[string]time.Duration, error) {
	var out map[string]time.Duration
	err := l.do(ctx, "cooldown", func(ctx context.Context) (err error) {
		out, err = l.store.Cooldowns(ctx, keys)
		return err
	})
	return out, err
}

// SetState stores a small shared value (e.g. a circuit state) under key for
// ttl, for every replica sharing the store; an empty value deletes it.
func (l *Limiter) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	return l.do(ctx, "state", func(ctx context.Context) error { return l.store.SetState(ctx, key, value, ttl) })
}

// States returns the values of those of keys that are set, in one round
// trip.
func (l *Limiter) States(ctx context.Context, keys []string) (map[string]string, error) {
	var out map[string]string
	err := l.do(ctx, "state", func(ctx context.Context) (err error) {
		out, err = l.store.States(ctx, keys)
		return err
	})
	return out, err
}

// PutRecords sets fields of the durable record set name for every replica
// sharing the store (application profiles). Records do not expire.
func (l *Limiter) PutRecords(ctx context.Context, name string, fields map[string]string) error {
	return l.do(ctx, "records", func(ctx context.Context) error { return l.store.PutRecords(ctx, name, fields) })
}

// Records returns every field of the record set name, in one round trip.
func (l *Limiter) Records(ctx context.Context, name string) (map[string]string, error) {
	var out map[string]string
	err := l.do(ctx, "records", func(ctx context.Context) (err error) {
		out, err = l.store.Records(ctx, name)
		return err
	})
	return out, err
}

// do runs a shared-state operation with health tracking. Errors match
// [ErrStoreUnavailable]; the caller (routing) falls back to what it knows
// locally.
func (l *Limiter) do(ctx context.Context, op string, f func(context.Context) error) error {
	if !l.health.allow() {
		return fmt.Errorf("%s: %w", op, ErrStoreUnavailable)
	}
	ticket := l.health.begin()
	if err := f(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		l.health.fail(op, err, ticket)
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	l.storeOK(ticket)
	return nil
}
