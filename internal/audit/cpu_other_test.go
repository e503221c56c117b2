//go:build !unix

package audit

import "time"

// cpuTime is not measured here; CPU metrics report 0.
func cpuTime() time.Duration { return 0 }
