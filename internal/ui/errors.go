package ui

import "errors"

// ErrUnknownRegion is returned by a [DemoControl] for a region it does not run.
var ErrUnknownRegion = errors.New("unknown region")
