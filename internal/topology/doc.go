// Package topology owns Meridian's topology file: geographies, regions, models,
// deployments, application profiles, principals, policies and the settings of
// each subsystem. It parses YAML into plain structs, fills defaults and
// validates the whole file, reporting every problem at once with the file,
// line, field path and a fix. It performs no I/O beyond reading the bytes it
// is given, and it never reads secrets: configs only name the environment
// variables or files that hold them.
package topology
