// Package chart tests the Helm chart in this directory: it renders the chart
// with the Helm SDK as `helm template` does (no cluster), decodes every
// manifest strictly into the Kubernetes API types, and checks what a
// Meridian region needs from it. It holds no code of its own; the chart's
// .helmignore keeps the Go files out of the packaged chart.
package chart

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	release   = "meridian-eu-west-1"
	namespace = "meridian"
	stateDir  = "/var/lib/meridian"
	linkDir   = "/etc/meridian/link"
)

var loadChart = sync.OnceValues(func() (*chartv2.Chart, error) { return loader.Load(".") })

// render renders the chart with the given values (YAML) as `helm template
// meridian-eu-west-1 . -n meridian -f values.yaml` does.
func render(t *testing.T, values string) (map[string]string, error) {
	t.Helper()
	ch, err := loadChart()
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := common.ReadValues([]byte(values))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	if err := chartv2util.ProcessDependencies(ch, vals); err != nil {
		t.Fatalf("process dependencies: %v", err)
	}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true, Revision: 1}, nil, false)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, top)
}

// manifests are a render's objects, decoded into the API types.
type manifests struct {
	statefulSets   []*appsv1.StatefulSet
	deployments    []*appsv1.Deployment
	services       []*corev1.Service
	configMaps     []*corev1.ConfigMap
	pdbs           []*policyv1.PodDisruptionBudget
	netpols        []*networkingv1.NetworkPolicy
	serviceMonitor []map[string]any
	prometheusRule []map[string]any
	notes          string
}

// decode splits the rendered files into documents and decodes each one
// strictly (unknown fields fail) into its API type. An object of a kind the
// test does not know fails too, so a new template needs a decision here.
func decode(t *testing.T, files map[string]string) *manifests {
	t.Helper()
	m := &manifests{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if path.Base(name) == "NOTES.txt" {
			m.notes = files[name]
			continue
		}
		for i, doc := range strings.Split("\n"+files[name], "\n---") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s (document %d)", name, i)
			js, err := k8syaml.ToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", where, err, doc)
			}
			var tm struct{ APIVersion, Kind string }
			if err := json.Unmarshal(js, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + "/" + tm.Kind {
			case "apps/v1/StatefulSet":
				o := &appsv1.StatefulSet{}
				m.statefulSets, obj = append(m.statefulSets, o), o
			case "apps/v1/Deployment":
				o := &appsv1.Deployment{}
				m.deployments, obj = append(m.deployments, o), o
			case "v1/Service":
				o := &corev1.Service{}
				m.services, obj = append(m.services, o), o
			case "v1/ConfigMap":
				o := &corev1.ConfigMap{}
				m.configMaps, obj = append(m.configMaps, o), o
			case "v1/ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "policy/v1/PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				m.pdbs, obj = append(m.pdbs, o), o
			case "networking.k8s.io/v1/NetworkPolicy":
				o := &networkingv1.NetworkPolicy{}
				m.netpols, obj = append(m.netpols, o), o
			case "monitoring.coreos.com/v1/ServiceMonitor":
				// A CRD: no Go type here; its fields are checked by hand.
				o := map[string]any{}
				if err := json.Unmarshal(js, &o); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				m.serviceMonitor = append(m.serviceMonitor, o)
				continue
			case "monitoring.coreos.com/v1/PrometheusRule":
				o := map[string]any{}
				if err := json.Unmarshal(js, &o); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				m.prometheusRule = append(m.prometheusRule, o)
				continue
			default:
				t.Fatalf("%s: unexpected object %s %s", where, tm.APIVersion, tm.Kind)
			}
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(obj); err != nil {
				t.Fatalf("%s: strict decode of %s: %v\n%s", where, tm.Kind, err, doc)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (m *manifests) service(t *testing.T, suffix string) *corev1.Service {
	t.Helper()
	for _, s := range m.services {
		if s.Name == release+suffix {
			return s
		}
	}
	t.Fatalf("no Service %s%s", release, suffix)
	return nil
}

// TestRender renders representative values and checks each render's
// invariants (checkRegion) and what the case is about (check).
func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values string
		check  func(t *testing.T, r *rendered)
	}{
		{
			name:   "defaults",
			values: "region: eu-west-1\n",
			check: func(t *testing.T, r *rendered) {
				if got := *r.sts.Spec.Replicas; got != 1 {
					t.Errorf("replicas = %d, want 1", got)
				}
				if r.cfg.Quota.Store != "memory" {
					t.Errorf("quota.store = %q, want memory", r.cfg.Quota.Store)
				}
				if len(r.m.deployments) != 0 || len(r.m.serviceMonitor) != 0 || len(r.m.prometheusRule) != 0 {
					t.Errorf("defaults render %d Deployments, %d ServiceMonitors and %d PrometheusRules, want none",
						len(r.m.deployments), len(r.m.serviceMonitor), len(r.m.prometheusRule))
				}
				if !strings.Contains(r.m.notes, "example topology") {
					t.Errorf("NOTES do not warn that the example topology is installed:\n%s", r.m.notes)
				}
				if got := r.pdb.Spec.MaxUnavailable; got == nil || *got != intstr.FromInt32(1) {
					t.Errorf("PDB maxUnavailable = %v, want 1", got)
				}
				// 30s drain + 5s grace + 15s margin.
				if got := *r.pod.TerminationGracePeriodSeconds; got != 50 {
					t.Errorf("terminationGracePeriodSeconds = %d, want 50", got)
				}
				if _, ok := r.sts.Spec.Template.Annotations["checksum/topology"]; !ok {
					t.Error("pod template has no checksum/topology annotation: a topology change would not roll the pods")
				}
			},
		},
		{
			name: "three replicas with the release's Redis",
			values: `
region: eu-west-1
replicaCount: 3
redis: { enabled: true }
`,
			check: func(t *testing.T, r *rendered) {
				if got := *r.sts.Spec.Replicas; got != 3 {
					t.Errorf("replicas = %d, want 3", got)
				}
				want := "redis://" + release + "-redis:6379/0"
				if r.cfg.Quota.Store != "redis" || r.cfg.Quota.Redis.URL != want {
					t.Errorf("topology quota = %q %q, want redis %q", r.cfg.Quota.Store, r.cfg.Quota.Redis.URL, want)
				}
				if len(r.m.deployments) != 1 || r.m.deployments[0].Name != release+"-redis" {
					t.Fatalf("want one Deployment %s-redis, got %d", release, len(r.m.deployments))
				}
				var spread []string
				for _, c := range r.pod.TopologySpreadConstraints {
					if matchesStr(c.LabelSelector.MatchLabels, r.sts.Spec.Template.Labels) {
						spread = append(spread, c.TopologyKey)
					}
				}
				if !slices.Equal(spread, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}) {
					t.Errorf("replicas spread over %v, want zones and nodes by default", spread)
				}
				redis := r.m.deployments[0].Spec.Template.Spec
				checkContainerSecurity(t, &redis)
				if args := strings.Join(redis.Containers[0].Args, " "); !strings.Contains(args, "--maxmemory-policy noeviction") {
					t.Errorf("redis args = %q, want noeviction (an evicted counter loses admissions)", args)
				}
				r.m.service(t, "-redis")
				if r.pdb.Spec.MaxUnavailable == nil || r.pdb.Spec.MaxUnavailable.IntValue() != 1 {
					t.Errorf("PDB maxUnavailable = %v, want 1", r.pdb.Spec.MaxUnavailable)
				}
			},
		},
		{
			name: "three replicas with the release's Redis and a password",
			values: `
region: eu-west-1
replicaCount: 3
redis: { enabled: true }
quota: { redis: { passwordSecret: { name: meridian-redis, key: password } } }
`,
			check: func(t *testing.T, r *rendered) {
				if r.cfg.Quota.Redis.PasswordEnv != "MERIDIAN_REDIS_PASSWORD" {
					t.Errorf("quota.redis.password_env = %q, want MERIDIAN_REDIS_PASSWORD", r.cfg.Quota.Redis.PasswordEnv)
				}
				redis := r.m.deployments[0].Spec.Template.Spec.Containers[0]
				if args := strings.Join(redis.Args, " "); !strings.Contains(args, "--requirepass $(REDIS_PASSWORD)") {
					t.Errorf("redis args = %q, want --requirepass $(REDIS_PASSWORD)", args)
				}
				if e := envVar(&redis, "REDIS_PASSWORD"); e == nil || e.ValueFrom.SecretKeyRef.Name != "meridian-redis" {
					t.Errorf("redis REDIS_PASSWORD = %+v, want from Secret meridian-redis", e)
				}
				if e := envVar(r.container, "MERIDIAN_REDIS_PASSWORD"); e == nil || e.ValueFrom.SecretKeyRef.Name != "meridian-redis" {
					t.Errorf("meridian MERIDIAN_REDIS_PASSWORD = %+v, want from Secret meridian-redis", e)
				}
			},
		},
		{
			name: "three replicas with our own Redis and its password",
			values: `
region: eu-west-1
replicaCount: 3
quota:
  store: redis
  redis:
    url: redis://redis.meridian-eu.svc:6379/0
    keyPrefix: "eu-west-1:"
    passwordSecret: { name: meridian-redis, key: password }
podDisruptionBudget: { minAvailable: 2 }
`,
			check: func(t *testing.T, r *rendered) {
				q := r.cfg.Quota
				if q.Store != "redis" || q.Redis.URL != "redis://redis.meridian-eu.svc:6379/0" || q.Redis.KeyPrefix != "eu-west-1:" || q.Redis.PasswordEnv != "MERIDIAN_REDIS_PASSWORD" {
					t.Errorf("topology quota = %+v, want the values' Redis with password_env MERIDIAN_REDIS_PASSWORD", q)
				}
				env := envVar(r.container, "MERIDIAN_REDIS_PASSWORD")
				if env == nil || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil ||
					env.ValueFrom.SecretKeyRef.Name != "meridian-redis" || env.ValueFrom.SecretKeyRef.Key != "password" {
					t.Errorf("MERIDIAN_REDIS_PASSWORD = %+v, want from Secret meridian-redis key password", env)
				}
				if len(r.m.deployments) != 0 {
					t.Errorf("%d Deployments rendered, want none (own Redis)", len(r.m.deployments))
				}
				if got := r.pdb.Spec.MinAvailable; got == nil || got.IntValue() != 2 || r.pdb.Spec.MaxUnavailable != nil {
					t.Errorf("PDB = min %v max %v, want minAvailable 2 only", got, r.pdb.Spec.MaxUnavailable)
				}
			},
		},
		{
			name: "cert-manager Certificate secret",
			values: `
region: eu-west-1
link: { secretName: meridian-eu-west-1-link-cert }
`,
			check: func(t *testing.T, r *rendered) {
				checkLinkSecret(t, r, "meridian-eu-west-1-link-cert", map[string]string{"tls.crt": "tls.crt", "tls.key": "tls.key", "ca.crt": "ca.crt"})
			},
		},
		{
			name: "meridian certs output as a secret",
			values: `
region: eu-west-1
link: { secretName: meridian-link, certKey: eu-west-1.crt, keyKey: eu-west-1.key, caKey: ca.crt }
`,
			check: func(t *testing.T, r *rendered) {
				checkLinkSecret(t, r, "meridian-link", map[string]string{"eu-west-1.crt": "tls.crt", "eu-west-1.key": "tls.key", "ca.crt": "ca.crt"})
			},
		},
		{
			name: "ServiceMonitor on the ops port",
			values: `
region: eu-west-1
serviceMonitor: { enabled: true, labels: { release: prometheus } }
`,
			check: func(t *testing.T, r *rendered) {
				if len(r.m.serviceMonitor) != 1 {
					t.Fatalf("%d ServiceMonitors, want 1", len(r.m.serviceMonitor))
				}
				sm := r.m.serviceMonitor[0]
				spec, _ := sm["spec"].(map[string]any)
				eps, _ := spec["endpoints"].([]any)
				if len(eps) != 1 {
					t.Fatalf("ServiceMonitor endpoints = %v, want one", spec["endpoints"])
				}
				ep, _ := eps[0].(map[string]any)
				if ep["port"] != "ops" || ep["path"] != "/metrics" {
					t.Errorf("ServiceMonitor endpoint = %v, want port ops path /metrics", ep)
				}
				sel, _ := spec["selector"].(map[string]any)
				match, _ := sel["matchLabels"].(map[string]any)
				var scraped []string
				for _, s := range r.m.services {
					if matches(match, s.Labels) {
						scraped = append(scraped, s.Name)
						if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool {
							return p.Name == "ops" && p.TargetPort.StrVal == "ops"
						}) {
							t.Errorf("Service %s selected by the ServiceMonitor has no ops port", s.Name)
						}
					}
				}
				if !slices.Equal(scraped, []string{release + "-headless"}) {
					t.Errorf("ServiceMonitor selects Services %v, want only %s-headless", scraped, release)
				}
				labels, _ := sm["metadata"].(map[string]any)["labels"].(map[string]any)
				if labels["release"] != "prometheus" {
					t.Errorf("ServiceMonitor labels = %v, want serviceMonitor.labels added", labels)
				}
			},
		},
		{
			name: "PrometheusRule alerts",
			values: `
region: eu-west-1
serviceMonitor: { enabled: true }
prometheusRule: { enabled: true, labels: { release: prometheus }, certificateExpiryDays: 7 }
`,
			check: checkPrometheusRule,
		},
		{
			name: "own topology with longer drain and live reload",
			values: `
region: us-east-1
topology:
  account: "111122223333"
  geographies: { us: { name: United States } }
  regions:
    - { id: us-east-1, geography: us, location: { lat: 38.9, lon: -77.4 }, listen: "api.us-east-1.example.com:443", link: "link.us-east-1.example.com:9443" }
  models: [{ id: demo.chat-small, name: Small, context_window: 8192 }]
  deployments:
    - model: demo.chat-small
      region: us-east-1
      backend: { type: openai, url: "http://vllm:8000/v1", model: small, api_key_env: US_EAST_1_KEY }
      capacity: { max_concurrency: 16, rpm: 1200, tpm: 400000 }
  audit: { rotate_bytes: 104857600 }
  server: { drain_timeout: 1m30s, drain_grace: 10s }
envFrom: [{ secretRef: { name: meridian-backends } }]
audit: { keySecret: meridian-audit-key }
reloader: { enabled: true }
`,
			check: func(t *testing.T, r *rendered) {
				// 90s drain + 10s grace + 15s margin.
				if got := *r.pod.TerminationGracePeriodSeconds; got != 115 {
					t.Errorf("terminationGracePeriodSeconds = %d, want 115", got)
				}
				if r.cfg.Audit.RotateBytes != 104857600 {
					t.Errorf("audit.rotate_bytes = %d, want 104857600 (large numbers survive the render)", r.cfg.Audit.RotateBytes)
				}
				if r.cfg.Audit.KeyFile != "/etc/meridian/audit/audit-key" || mount(r.container, "audit-key") == nil {
					t.Errorf("audit.key_file = %q with mount %v, want the mounted Secret", r.cfg.Audit.KeyFile, mount(r.container, "audit-key"))
				}
				if len(r.container.EnvFrom) != 1 || r.container.EnvFrom[0].SecretRef == nil || r.container.EnvFrom[0].SecretRef.Name != "meridian-backends" {
					t.Errorf("envFrom = %+v, want Secret meridian-backends", r.container.EnvFrom)
				}
				if r.pod.ShareProcessNamespace == nil || !*r.pod.ShareProcessNamespace || len(r.pod.Containers) != 2 {
					t.Errorf("reloader: shareProcessNamespace %v with %d containers, want true and a sidecar", r.pod.ShareProcessNamespace, len(r.pod.Containers))
				}
				if _, ok := r.sts.Spec.Template.Annotations["checksum/topology"]; ok {
					t.Error("with the reloader the pods must not roll on a topology change")
				}
			},
		},
		{
			name: "client TLS without the ops listener",
			values: `
region: eu-west-1
ops: { enabled: false }
clientTLS: { enabled: true, secretName: meridian-eu-west-1-api-tls }
`,
			check: func(t *testing.T, r *rendered) {
				for name, p := range map[string]*corev1.Probe{"readiness": r.container.ReadinessProbe, "liveness": r.container.LivenessProbe} {
					if p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Port.StrVal != "client" {
						t.Errorf("%s probe = %s on %q, want HTTPS on the client port", name, p.HTTPGet.Scheme, p.HTTPGet.Port.StrVal)
					}
				}
				if v := volume(r.pod, "client-tls"); v == nil || v.Secret == nil || v.Secret.SecretName != "meridian-eu-west-1-api-tls" {
					t.Errorf("client-tls volume = %+v, want the Secret", v)
				}
				if m := mount(r.container, "client-tls"); m == nil || m.MountPath != "/etc/meridian/client-tls" {
					t.Errorf("client-tls mount = %+v, want /etc/meridian/client-tls", m)
				}
				if p := r.m.service(t, "").Spec.Ports[0]; p.Name != "https" {
					t.Errorf("client Service port is named %q, want https", p.Name)
				}
			},
		},
		{
			name: "network policies",
			values: `
region: eu-west-1
replicaCount: 2
redis: { enabled: true }
networkPolicy:
  enabled: true
  linkFrom: [{ ipBlock: { cidr: 10.30.0.0/16 } }]
  opsFrom: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } } }]
`,
			check: func(t *testing.T, r *rendered) {
				if len(r.m.netpols) != 2 {
					t.Fatalf("%d NetworkPolicies, want 2 (gateway, redis)", len(r.m.netpols))
				}
				gw, rd := r.m.netpols[0], r.m.netpols[1]
				if !matchesStr(gw.Spec.PodSelector.MatchLabels, r.sts.Spec.Template.Labels) {
					t.Errorf("gateway policy selects %v, not the gateway pods", gw.Spec.PodSelector.MatchLabels)
				}
				from := map[string]int{}
				for _, rule := range gw.Spec.Ingress {
					for _, p := range rule.Ports {
						from[p.Port.StrVal] = len(rule.From)
					}
				}
				if want := map[string]int{"client": 0, "link": 1, "ops": 1}; fmt.Sprint(from) != fmt.Sprint(want) {
					t.Errorf("gateway ingress sources per port = %v, want %v (client from anywhere)", from, want)
				}
				redis := r.m.deployments[0].Spec.Template.Labels
				if !matchesStr(rd.Spec.PodSelector.MatchLabels, redis) || len(rd.Spec.Ingress) != 1 || len(rd.Spec.Ingress[0].From) != 1 ||
					!matchesStr(rd.Spec.Ingress[0].From[0].PodSelector.MatchLabels, r.sts.Spec.Template.Labels) {
					t.Errorf("redis policy = %+v, want ingress from the gateway pods only", rd.Spec)
				}
			},
		},
		{
			name: "link behind an internal load balancer",
			values: `
region: eu-west-1
service:
  link:
    type: LoadBalancer
    annotations: { service.beta.kubernetes.io/aws-load-balancer-internal: "true" }
    loadBalancerSourceRanges: [10.20.0.0/16]
`,
			check: func(t *testing.T, r *rendered) {
				s := r.m.service(t, "-link")
				if s.Spec.Type != corev1.ServiceTypeLoadBalancer || !slices.Equal(s.Spec.LoadBalancerSourceRanges, []string{"10.20.0.0/16"}) ||
					s.Annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] != "true" {
					t.Errorf("link Service = %s %v %v, want an internal LoadBalancer limited to 10.20.0.0/16", s.Spec.Type, s.Spec.LoadBalancerSourceRanges, s.Annotations)
				}
				if c := r.m.service(t, ""); c.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("client Service type = %s, want ClusterIP", c.Spec.Type)
				}
			},
		},
		{
			name: "drain grace shorter than readiness",
			values: `
region: eu-west-1
existingTopology: { name: meridian-topology }
drain: { timeout: 30s, grace: 1s }
`,
			check: func(t *testing.T, r *rendered) {
				if !strings.Contains(r.m.notes, "WARNING: server.drain_grace (1s) is shorter than the readiness probe needs to see a draining pod (4s)") {
					t.Errorf("notes lack the drain-grace warning:\n%s", r.m.notes)
				}
			},
		},
		{
			name: "existing topology in a Secret",
			values: `
region: eu-west-1
existingTopology: { name: meridian-topology, kind: Secret, key: topology.yaml }
drain: { timeout: 45s, grace: 5s }
`,
			check: func(t *testing.T, r *rendered) {
				if len(r.m.configMaps) != 0 {
					t.Errorf("%d ConfigMaps rendered, want none", len(r.m.configMaps))
				}
				v := volume(r.pod, "topology")
				if v == nil || v.Secret == nil || v.Secret.SecretName != "meridian-topology" {
					t.Errorf("topology volume = %+v, want Secret meridian-topology", v)
				}
				if got := *r.pod.TerminationGracePeriodSeconds; got != 65 {
					t.Errorf("terminationGracePeriodSeconds = %d, want 65", got)
				}
			},
		},
		{
			name: "probes on the client listener without ops",
			values: `
region: eu-west-1
ops: { enabled: false }
persistence: { enabled: false }
`,
			check: func(t *testing.T, r *rendered) {
				if p := r.container.ReadinessProbe.HTTPGet.Port.StrVal; p != "client" {
					t.Errorf("readiness probe port = %q, want client", p)
				}
				if slices.ContainsFunc(r.container.Args, func(a string) bool { return strings.HasPrefix(a, "--ops-listen") }) {
					t.Errorf("args %v name an ops listener with ops disabled", r.container.Args)
				}
				if v := volume(r.pod, "state"); v == nil || v.EmptyDir == nil || len(r.sts.Spec.VolumeClaimTemplates) != 0 {
					t.Errorf("state volume = %+v with %d claim templates, want an emptyDir", v, len(r.sts.Spec.VolumeClaimTemplates))
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files, err := render(t, tc.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			r := checkRegion(t, decode(t, files), tc.values)
			tc.check(t, r)
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/render")

// TestRenderGolden renders each testdata/render/<case>/values.yaml and
// compares the manifests with manifests.golden.yaml beside it (as `helm
// template` prints them), so that a review sees every change a template
// edit makes. Run with -update to rewrite them.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/render/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases under testdata/render (%v)", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			values, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			files, err := render(t, string(values))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			checkRegion(t, decode(t, files), string(values))
			names := make([]string, 0, len(files))
			for name, body := range files {
				if path.Base(name) != "NOTES.txt" && strings.TrimSpace(body) != "" {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			var got strings.Builder
			for _, name := range names {
				fmt.Fprintf(&got, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(files[name]))
			}
			golden := filepath.Join(dir, "manifests.golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("render of %s differs from %s (run go test -update and review the diff):\n%s", dir, golden, lineDiff(string(want), got.String()))
			}
		})
	}
}

// lineDiff shows the first lines where got departs from want.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

// TestRegionsAgree renders the same topology for two regions with
// different per-region values (the chart writes each release's quota store
// and audit key into its copy) and checks that their nodes agree on
// residency: peers compare these digests and report a mismatch otherwise.
func TestRegionsAgree(t *testing.T) {
	t.Parallel()
	digest := func(values string) string {
		files, err := render(t, values)
		if err != nil {
			t.Fatalf("render(%q): %v", values, err)
		}
		m := decode(t, files)
		if len(m.configMaps) != 1 {
			t.Fatalf("render(%q): %d ConfigMaps, want 1", values, len(m.configMaps))
		}
		cfg, err := topology.Parse([]byte(m.configMaps[0].Data["topology.yaml"]), "rendered")
		if err != nil {
			t.Fatal(err)
		}
		cat, err := profile.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cat.ResidencyDigest()
	}
	west := digest("region: eu-west-1\nreplicaCount: 3\nredis: { enabled: true }\naudit: { keySecret: audit-key }\n")
	central := digest("region: eu-central-1\nquota: { store: redis, redis: { url: \"redis://redis.eu-central-1:6379/0\", keyPrefix: \"c:\" } }\n")
	if west != central {
		t.Errorf("residency digests differ between the regions' rendered topologies: %s vs %s", west, central)
	}
}

// TestChartFiles checks that the packaged chart holds no test files (the
// .helmignore) and that it declares what `helm install` checks.
func TestChartFiles(t *testing.T) {
	t.Parallel()
	ch, err := loadChart()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Validate(); err != nil {
		t.Errorf("Chart.yaml: %v", err)
	}
	for _, v := range []string{"v1.27.0", "v1.33.2"} {
		if !chartv2util.IsCompatibleRange(ch.Metadata.KubeVersion, v) {
			t.Errorf("Chart.yaml kubeVersion %q refuses Kubernetes %s", ch.Metadata.KubeVersion, v)
		}
	}
	if ch.Schema == nil {
		t.Error("the chart has no values.schema.json")
	}
	for _, f := range append(ch.Raw, ch.Files...) {
		if strings.HasSuffix(f.Name, ".go") || strings.HasPrefix(f.Name, "testdata/") {
			t.Errorf("the packaged chart holds %s", f.Name)
		}
	}
}

// TestRenderRefuses checks that values that cannot run fail the render
// with a message naming the value and the fix.
func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, values, want string
	}{
		{"no region", "{}", "region: set the id of this release's region"},
		{"region not in the topology", "region: ap-south-1", `"ap-south-1" is not a region of the topology (its regions: eu-west-1, eu-central-1)`},
		{"three replicas with the memory store", "region: eu-west-1\nreplicaCount: 3", "replicaCount: 3 replicas need the redis quota store"},
		{"three replicas of an existing topology", "region: eu-west-1\nreplicaCount: 3\nexistingTopology: { name: t }", "replicaCount: 3 replicas need the redis quota store"},
		{"redis store without a URL", "region: eu-west-1\nreplicaCount: 2\nquota: { store: redis }", "quota.redis.url: the redis quota store needs a URL"},
		{"unknown store in the topology", "region: eu-west-1\ntopology: { regions: [{ id: eu-west-1 }], quota: { store: etcd } }", `quota.store: "etcd" is not a quota store`},
		{"two Redis", "region: eu-west-1\nredis: { enabled: true }\nquota: { redis: { url: redis://r:6379/0 } }", "quota.redis.url and redis.enabled=true both name a Redis"},
		{"grace shorter than the drain", "region: eu-west-1\nterminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 30 does not exceed server.drain_timeout + server.drain_grace (35s)"},
		{"bad drain duration in the topology", "region: eu-west-1\ntopology: { regions: [{ id: eu-west-1 }], server: { drain_timeout: soon } }", `server.drain_timeout: "soon" is not a duration`},
		{"bad drain duration in the values", "region: eu-west-1\nexistingTopology: { name: t }\ndrain: { timeout: soon }", "/drain/timeout"},
		{"dev link", "region: eu-west-1\ntopology: { regions: [{ id: eu-west-1 }], link: { insecure_dev_link: true } }", "link.insecure_dev_link: the link would run over plain HTTP"},
		{"ServiceMonitor without ops", "region: eu-west-1\nops: { enabled: false }\nserviceMonitor: { enabled: true }", "serviceMonitor.enabled=true needs ops.enabled=true"},
		// values.schema.json: typos and wrong types fail before any template runs.
		{"misspelt value", "region: eu-west-1\nreplicas: 3", "replicas"},
		{"replicas as a string", "region: eu-west-1\nreplicaCount: \"3\"", "replicaCount"},
		{"unknown store in the values", "region: eu-west-1\nquota: { store: Redis }", "/quota/store"},
		{"bad log level", "region: eu-west-1\nlogLevel: verbose", "logLevel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render(%q) error = %v, want it to contain %q", tc.values, err, tc.want)
			}
		})
	}
}

// rendered is a successful render of one region.
type rendered struct {
	m         *manifests
	sts       *appsv1.StatefulSet
	pod       *corev1.PodSpec
	container *corev1.Container
	pdb       *policyv1.PodDisruptionBudget
	cfg       *topology.Config // the rendered topology; nil for an existing one
}

// checkRegion checks what every render must give a region: one StatefulSet
// whose probes reach /readyz and /healthz on the listener the node opens,
// a non-root read-only container, link certificates from a Secret where the
// topology reads them, per-pod audit and data directories, a shared quota
// store for several replicas, a PDB and Services that select the pods, a
// drain that fits the termination grace period, and a topology that
// topology.Parse accepts.
func checkRegion(t *testing.T, m *manifests, values string) *rendered {
	t.Helper()
	if len(m.statefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(m.statefulSets))
	}
	r := &rendered{m: m, sts: m.statefulSets[0]}
	r.pod = &r.sts.Spec.Template.Spec
	r.container = &r.pod.Containers[0]
	if r.container.Name != "meridian" {
		t.Fatalf("first container is %q, want meridian", r.container.Name)
	}
	args := flags(r.container.Args)
	if len(r.container.Args) == 0 || r.container.Args[0] != "serve" {
		t.Fatalf("args = %v, want serve first", r.container.Args)
	}

	// The topology.
	if len(m.configMaps) == 1 {
		cm := m.configMaps[0]
		if v := volume(r.pod, "topology"); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
			t.Errorf("topology volume = %+v, want ConfigMap %s", v, cm.Name)
		}
		cfg, err := topology.Parse([]byte(cm.Data["topology.yaml"]), "ConfigMap "+cm.Name)
		if err != nil {
			t.Fatalf("the chart's topology does not parse: %v\n%s", err, cm.Data["topology.yaml"])
		}
		r.cfg = cfg
		if !slices.ContainsFunc(cfg.Regions, func(reg topology.Region) bool { return reg.ID == args["--region"] }) {
			t.Errorf("--region %q is not a region of the rendered topology", args["--region"])
		}
		if cfg.Link.CertFile != linkDir+"/tls.crt" || cfg.Link.KeyFile != linkDir+"/tls.key" || cfg.Link.CAFile != linkDir+"/ca.crt" {
			t.Errorf("topology link files = %q %q %q, want the mounted Secret's", cfg.Link.CertFile, cfg.Link.KeyFile, cfg.Link.CAFile)
		}
	}
	if tm := mount(r.container, "topology"); tm == nil || args["--config"] != tm.MountPath+"/topology.yaml" || tm.SubPath != "" {
		t.Errorf("--config %q with mount %+v, want topology.yaml in the mounted directory (no subPath, so updates reach the pod)", args["--config"], tm)
	}

	// Listeners and probes.
	ports := map[string]int32{}
	for _, p := range r.container.Ports {
		ports[p.Name] = p.ContainerPort
	}
	wantProbePort := "client"
	if a, ok := args["--ops-listen"]; ok {
		wantProbePort = "ops"
		if a != fmt.Sprintf("0.0.0.0:%d", ports["ops"]) {
			t.Errorf("--ops-listen %q, want the ops container port %d", a, ports["ops"])
		}
	}
	if a := args["--listen"]; a != fmt.Sprintf("0.0.0.0:%d", ports["client"]) {
		t.Errorf("--listen %q, want the client container port %d", a, ports["client"])
	}
	if a := args["--link"]; a != fmt.Sprintf("0.0.0.0:%d", ports["link"]) {
		t.Errorf("--link %q, want the link container port %d", a, ports["link"])
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", r.container.ReadinessProbe, "/readyz"}, {"liveness", r.container.LivenessProbe, "/healthz"}, {"startup", r.container.StartupProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe = %+v, want an HTTP GET", p.name, p.probe)
			continue
		}
		if g := p.probe.HTTPGet; g.Path != p.path || g.Port.StrVal != wantProbePort {
			t.Errorf("%s probe = GET %s on port %q, want %s on %q", p.name, g.Path, g.Port.StrVal, p.path, wantProbePort)
		}
	}
	if r.container.Lifecycle != nil && r.container.Lifecycle.PreStop != nil {
		t.Error("the container has a preStop hook; draining relies on /readyz turning 503 during server.drain_grace")
	}

	// Draining fits the kubelet's grace, and readiness fails within the
	// drain grace so endpoints are removed before the listeners close.
	timeout, grace := 30*time.Second, 5*time.Second
	if r.cfg != nil {
		timeout = r.cfg.Server.DrainTimeout.Or(30 * time.Second)
		if r.cfg.Server.DrainGrace != nil {
			grace = r.cfg.Server.DrainGrace.D()
		}
	} else {
		var v struct {
			Drain struct{ Timeout, Grace string }
		}
		if err := k8syaml.Unmarshal([]byte(values), &v); err != nil {
			t.Fatal(err)
		}
		if d, err := time.ParseDuration(v.Drain.Timeout); err == nil {
			timeout = d
		}
		if d, err := time.ParseDuration(v.Drain.Grace); err == nil {
			grace = d
		}
	}
	if tgp := time.Duration(*r.pod.TerminationGracePeriodSeconds) * time.Second; tgp <= timeout+grace {
		t.Errorf("terminationGracePeriodSeconds = %s, want above drain_timeout + drain_grace = %s", tgp, timeout+grace)
	}
	rp := r.container.ReadinessProbe
	if unready := time.Duration(rp.PeriodSeconds*rp.FailureThreshold) * time.Second; unready > grace && !strings.Contains(m.notes, "WARNING: server.drain_grace") {
		t.Errorf("readiness probe needs %s to see a draining pod, longer than drain_grace %s, and the notes do not warn", unready, grace)
	}

	// Security.
	ps := r.pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot with a non-zero runAsUser", ps)
	}
	checkContainerSecurity(t, r.pod)
	if r.pod.AutomountServiceAccountToken == nil || *r.pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it does not need")
	}

	// Link certificates.
	if lm := mount(r.container, "link"); lm == nil || lm.MountPath != linkDir || !lm.ReadOnly {
		t.Errorf("link mount = %+v, want read-only at %s", lm, linkDir)
	}
	if v := volume(r.pod, "link"); v == nil || v.Secret == nil {
		t.Errorf("link volume = %+v, want a Secret", v)
	}

	// Per-pod state: the audit and data directories live on the state
	// volume, one per pod (a claim template, or an emptyDir).
	sm := mount(r.container, "state")
	if sm == nil || sm.MountPath != stateDir {
		t.Fatalf("state mount = %+v, want %s", sm, stateDir)
	}
	for _, f := range []string{"--audit-dir", "--data-dir"} {
		if !strings.HasPrefix(args[f], stateDir+"/") {
			t.Errorf("%s = %q, want a directory on the state volume %s", f, args[f], stateDir)
		}
	}
	if v := volume(r.pod, "state"); v == nil && !slices.ContainsFunc(r.sts.Spec.VolumeClaimTemplates, func(c corev1.PersistentVolumeClaim) bool { return c.Name == "state" }) {
		t.Error("state is neither a pod volume nor a volume claim template")
	}
	if *r.sts.Spec.Replicas > 1 && r.cfg != nil && r.cfg.Quota.Store != "redis" {
		t.Errorf("%d replicas with quota.store %q, want redis", *r.sts.Spec.Replicas, r.cfg.Quota.Store)
	}

	// Selection: the PDB and the gateway Services select exactly the
	// gateway pods (not the release's Redis).
	if len(m.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(m.pdbs))
	}
	r.pdb = m.pdbs[0]
	podLabels := r.sts.Spec.Template.Labels
	if !matchesStr(r.pdb.Spec.Selector.MatchLabels, podLabels) || !matchesStr(r.sts.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("PDB selector %v / StatefulSet selector %v do not select the pods %v", r.pdb.Spec.Selector.MatchLabels, r.sts.Spec.Selector.MatchLabels, podLabels)
	}
	for _, d := range m.deployments {
		if matchesStr(r.pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("PDB selects the pods of Deployment %s", d.Name)
		}
	}
	for _, suffix := range []string{"", "-link", "-headless"} {
		s := m.service(t, suffix)
		if !matchesStr(s.Spec.Selector, podLabels) {
			t.Errorf("Service %s selector %v does not select the pods %v", s.Name, s.Spec.Selector, podLabels)
		}
		for _, d := range m.deployments {
			if matchesStr(s.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("Service %s selects the pods of Deployment %s", s.Name, d.Name)
			}
		}
		for _, p := range s.Spec.Ports {
			if _, ok := ports[p.TargetPort.StrVal]; !ok {
				t.Errorf("Service %s port %s targets %q, which the container does not name", s.Name, p.Name, p.TargetPort.StrVal)
			}
		}
	}
	if r.sts.Spec.ServiceName != release+"-headless" {
		t.Errorf("serviceName = %q, want the headless Service", r.sts.Spec.ServiceName)
	}
	return r
}

func checkContainerSecurity(t *testing.T, pod *corev1.PodSpec) {
	t.Helper()
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0 {
			t.Errorf("container %s securityContext = %+v, want a read-only root, no privilege escalation, all capabilities dropped", c.Name, sc)
		}
		if sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("container %s runs as root", c.Name)
		}
		if c.Resources.Requests == nil {
			t.Errorf("container %s has no resource requests", c.Name)
		}
	}
}

func checkLinkSecret(t *testing.T, r *rendered, name string, items map[string]string) {
	t.Helper()
	v := volume(r.pod, "link")
	if v == nil || v.Secret == nil || v.Secret.SecretName != name {
		t.Fatalf("link volume = %+v, want Secret %s", v, name)
	}
	got := map[string]string{}
	for _, it := range v.Secret.Items {
		got[it.Key] = it.Path
	}
	if fmt.Sprint(got) != fmt.Sprint(items) {
		t.Errorf("link Secret items = %v, want %v", got, items)
	}
}

// flags maps --name=value arguments.
func flags(args []string) map[string]string {
	out := map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			out[k] = v
		}
	}
	return out
}

func volume(pod *corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func mount(c *corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// matchesStr reports whether every selector label is in labels.
func matchesStr(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func matches(selector map[string]any, labels map[string]string) bool {
	s := map[string]string{}
	for k, v := range selector {
		s[k], _ = v.(string)
	}
	return matchesStr(s, labels)
}

// checkPrometheusRule: the shipped alerts are scoped to the release's
// region, each names a severity, and every metric they query is one
// docs/operations.md documents (a renamed metric would leave an alert that
// never fires).
func checkPrometheusRule(t *testing.T, r *rendered) {
	t.Helper()
	if len(r.m.prometheusRule) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(r.m.prometheusRule))
	}
	pr := r.m.prometheusRule[0]
	labels, _ := pr["metadata"].(map[string]any)["labels"].(map[string]any)
	if labels["release"] != "prometheus" {
		t.Errorf("PrometheusRule labels = %v, want prometheusRule.labels added", labels)
	}
	doc, err := os.ReadFile("../../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	metricName := regexp.MustCompile(`meridian_[a-z_]+`)
	want := []string{"MeridianSourceResidencyRejection", "MeridianAuditUnavailable", "MeridianAuditEventsLost", "MeridianPeerDown",
		"MeridianTopologyMismatch", "MeridianQuotaStoreDown", "MeridianCertificateExpiresSoon", "MeridianReloadNotApplied", "MeridianServerErrors"}
	var got []string
	groups, _ := pr["spec"].(map[string]any)["groups"].([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, ru := range rules {
			rule, _ := ru.(map[string]any)
			name, _ := rule["alert"].(string)
			expr, _ := rule["expr"].(string)
			got = append(got, name)
			if sev, _ := rule["labels"].(map[string]any)["severity"].(string); sev != "critical" && sev != "warning" {
				t.Errorf("%s: severity %q", name, sev)
			}
			sels := metricName.FindAllStringIndex(expr, -1)
			if len(sels) == 0 {
				t.Errorf("%s: no Meridian metric in %q", name, expr)
			}
			for _, loc := range sels {
				m := expr[loc[0]:loc[1]]
				if !strings.HasPrefix(expr[loc[1]:], `{region="eu-west-1"`) {
					t.Errorf("%s: %s not scoped to the release's region in %q", name, m, expr)
				}
				if !strings.Contains(string(doc), "`"+m+"`") {
					t.Errorf("%s: %s is not in docs/operations.md", name, m)
				}
			}
			if name == "MeridianCertificateExpiresSoon" && !strings.Contains(expr, "< 604800") {
				t.Errorf("%s: %q does not use certificateExpiryDays 7", name, expr)
			}
			if name == "MeridianReloadNotApplied" {
				// It must fire as long as the node runs a topology other
				// than its file's, not for a window after the reload: a
				// condition on the gauge's current value, with no range
				// (an increase over [15m] resolved while the node still
				// ran the old topology).
				if want := `meridian_config_last_reload_successful{region="eu-west-1"} == 0`; expr != want {
					t.Errorf("%s: expr %q, want %q", name, expr, want)
				}
				if strings.Contains(expr, "[") {
					t.Errorf("%s: %q reads a range: it would resolve while the reload is still not applied", name, expr)
				}
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}
