package routing

// capabilityFilter excludes a destination whose deployment lacks a
// capability the request uses: sending it there would have the model
// refuse the request or, worse, silently ignore the field.
func capabilityFilter(in *Input, region string) Exclusion {
	if in.Capable != nil && !in.Capable(region) {
		return ExcludedIncapable
	}
	return Included
}
