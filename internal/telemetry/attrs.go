package telemetry

// Log attribute keys, shared by every component so logs can be queried
// consistently.
const (
	AttrComponent         = "component"
	AttrRequestID         = "request_id"
	AttrRegion            = "region"
	AttrSourceRegion      = "source_region"
	AttrDestinationRegion = "destination_region"
	AttrProfile           = "profile"
	AttrPrincipal         = "principal"
	AttrRoute             = "route"
	AttrStatus            = "status"
	AttrError             = "error"
	AttrAttempts          = "attempts"
	AttrDuration          = "duration"
	AttrPeer              = "peer"
	AttrAddr              = "addr"
	// AttrReason is why a request was refused.
	AttrReason = "reason"
	// AttrPolicy, AttrStatementIndex, AttrSid and AttrGuardrail name the
	// policy statement that decided a denial.
	AttrPolicy         = "policy"
	AttrStatementIndex = "statement_index"
	AttrSid            = "sid"
	AttrGuardrail      = "guardrail"
)
