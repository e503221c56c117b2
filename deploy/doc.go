// Package deploy holds what runs Meridian on a platform: the container
// image (the repository's Dockerfile), the Helm chart (helm/meridian, tested
// in its own package) and the Grafana dashboard (grafana/meridian.json).
// Its tests check the Dockerfile, the dependencies of the binary it builds,
// and that the dashboard queries only metrics a node registers. It has no
// code of its own.
package deploy
