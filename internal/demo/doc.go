// Package demo runs Meridian's built-in demonstration: six regions in three
// geographies, two models at different capacities per region, each region
// backed by an embedded simulated model server, all in one process on
// localhost. It is what `meridian demo` runs and what browser and end-to-end
// tests start.
package demo
