// Package profile derives Meridian's inference profiles from a topology and
// resolves what a caller names (a profile id, a profile ARN or a model id) in
// a source region. System-defined profiles are "<geography>.<model>" and
// "global.<model>"; application profiles copy one of them, or a model, and
// carry tags. It also parses and formats ARNs in the Bedrock grammar.
//
// Package profile is pure: it performs no I/O. A Catalog is immutable and
// safe for concurrent use; adding an application profile returns a new one.
package profile
