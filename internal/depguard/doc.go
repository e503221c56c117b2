// Package depguard holds the module's dependency-guard test: one table of
// layering rules (docs/architecture.md, "Package map") checked against
// `go list -deps`. It has no code of its own and nothing imports it.
package depguard
