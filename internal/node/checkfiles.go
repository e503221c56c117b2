package node

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// CheckFiles loads, as each region's node would at start, the files the
// topology names: the link's CA, certificate and key per region (with
// "{region}" expanded; skipped under insecure_dev_link) and each client
// listener's TLS files. It returns one problem per unusable file set,
// naming the file, the field and the fix, so that `meridian config
// validate` does not call a topology valid that no node could serve.
// Paths are resolved as serve resolves them (relative to the working
// directory).
func CheckFiles(cfg *topology.Config) []*topology.ConfigError {
	var problems []*topology.ConfigError
	quiet := slog.New(slog.DiscardHandler)
	lc := linkConfig(cfg.Link)
	for i, r := range cfg.Regions {
		if !lc.InsecureDevLink {
			if _, err := pki.NewStore(withLogger(lc.StoreOptions(r.ID), quiet)); err != nil {
				problems = append(problems, &topology.ConfigError{File: cfg.File, Field: "link",
					Msg:  fmt.Sprintf("region %s: the link material cannot be loaded: %s", r.ID, oneLine(err)),
					Hint: "create it with `meridian certs init --dir DIR` and `meridian certs issue --dir DIR --region " + r.ID + "`, or point link.ca_file/cert_file/key_file at it"})
			}
		}
		if t := r.TLS; t != nil {
			if _, err := pki.NewServingStore(pki.ServingOptions{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, Logger: quiet}); err != nil {
				problems = append(problems, &topology.ConfigError{File: cfg.File, Field: fmt.Sprintf("regions[%d].tls", i),
					Msg:  fmt.Sprintf("the client listener's TLS files cannot be loaded: %s", oneLine(err)),
					Hint: "point cert_file and key_file (and client_ca_file) at readable PEM files"})
			}
		}
	}
	return problems
}

// oneLine joins a multi-line error (errors.Join) with "; ".
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func withLogger(o pki.StoreOptions, l *slog.Logger) pki.StoreOptions {
	o.Logger = l
	return o
}
