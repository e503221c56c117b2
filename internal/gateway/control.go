package gateway

import "context"

// RecordControl records a control-plane request that a front end served
// (ListInferenceProfiles, CreateInferenceProfile, ...), so that management
// calls leave a record and an audit event like invocations do (invariant
// 4; refused ones go through Reject). profileID and profileARN name the
// profile acted on, when there is one; status is the HTTP status answered.
func (g *Gateway) RecordControl(ctx context.Context, call *Call, profileID, profileARN string, status int) {
	g.metrics.InFlight.Inc()
	rec := g.newRecord(call, "source")
	rec.ProfileID, rec.ProfileARN, rec.Status = profileID, profileARN, status
	g.finish(ctx, rec)
}
