package backend

import (
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

func TestMockServesAndThrottles(t *testing.T) {
	t.Parallel()
	m, err := NewMock(MockConfig{Model: "chat-small", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	resp, err := m.Complete(t.Context(), req())
	if err != nil {
		t.Fatalf("Complete = %v", err)
	}
	if resp.Message.Text() == "" || resp.Usage.OutputTokens == 0 {
		t.Errorf("response %+v has no text or usage", resp)
	}
	m.Server().SetThrottled(5 * time.Second)
	_, err = m.Complete(t.Context(), req())
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindThrottled || e.RetryAfter != 5*time.Second {
		t.Fatalf("throttled Complete = %v, want KindThrottled with 5s Retry-After", err)
	}
}
