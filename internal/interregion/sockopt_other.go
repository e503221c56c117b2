//go:build !linux

package interregion

import "time"

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not available: the
// keep-alive probes (linkKeepAlive) still close a connection to a silent
// peer once nothing is in flight.
func setUserTimeout(uintptr, time.Duration) error { return nil }
