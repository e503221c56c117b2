{{/* Names and labels. */}}
{{- define "meridian.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meridian.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "meridian.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "meridian.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meridian.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meridian.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meridian.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "meridian.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
meridian.dev/region: {{ .Values.region | quote }}
{{- end -}}

{{- define "meridian.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meridian.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "meridian.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "meridian.linkSecretName" -}}
{{- default (printf "%s-link" (include "meridian.fullname" .)) .Values.link.secretName -}}
{{- end -}}

{{- define "meridian.redisURL" -}}
{{- printf "redis://%s-redis:6379/0" (include "meridian.fullname" .) -}}
{{- end -}}

{{/* Paths inside the pod. */}}
{{- define "meridian.topologyDir" -}}/etc/meridian/topology{{- end -}}
{{- define "meridian.linkDir" -}}/etc/meridian/link{{- end -}}
{{- define "meridian.stateDir" -}}/var/lib/meridian{{- end -}}

{{/*
meridian.seconds turns a Go duration ("30s", "1m30s", "500ms", "0") into
seconds, failing the render on anything else.
*/}}
{{- define "meridian.seconds" -}}
{{- $d := toString .d -}}
{{- if eq $d "0" -}}0{{- else -}}
{{- if not (regexMatch "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$" $d) -}}
{{- fail (printf "%s: %q is not a duration (use e.g. 30s, 1m30s, 500ms)" .field $d) -}}
{{- end -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" $d -1 -}}
{{- $n := regexFind "^[0-9]+(\\.[0-9]+)?" . | float64 -}}
{{- $unit := regexReplaceAll "^[0-9]+(\\.[0-9]+)?" . "" -}}
{{- $scale := get (dict "ns" 1e-9 "us" 1e-6 "µs" 1e-6 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0) $unit -}}
{{- $total = addf $total (mulf $n $scale) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
{{- end -}}

{{/*
meridian.rendered reports whether the chart renders the topology (inline
or example) rather than using existingTopology.
*/}}
{{- define "meridian.rendered" -}}
{{- if not .Values.existingTopology.name -}}true{{- end -}}
{{- end -}}

{{/*
meridian.quotaStore is the region's effective quota store: quota.store,
else "redis" with redis.enabled, else the rendered topology's, else
"memory" ("" for an existing topology that declares nothing).
*/}}
{{- define "meridian.quotaStore" -}}
{{- $topo := include "meridian.baseTopology" . | fromYaml -}}
{{- $tq := default dict $topo.quota -}}
{{- if .Values.quota.store -}}{{ .Values.quota.store }}
{{- else if .Values.redis.enabled -}}redis
{{- else if $tq.store -}}{{ $tq.store }}
{{- else if include "meridian.rendered" . -}}memory
{{- end -}}
{{- end -}}

{{/* meridian.baseTopology is the topology as given (inline or example). */}}
{{- define "meridian.baseTopology" -}}
{{- if .Values.existingTopology.name -}}
{}
{{- else if .Values.topology -}}
{{ toYaml .Values.topology }}
{{- else -}}
{{ .Files.Get "files/topology.example.yaml" }}
{{- end -}}
{{- end -}}

{{/*
meridian.topology is the topology file the chart renders: the given one
with the fields the chart owns set (link certificate paths, the quota
store from quota.* and redis.*, the audit key).
*/}}
{{- define "meridian.topology" -}}
{{- $topo := include "meridian.baseTopology" . | fromYaml -}}
{{- if hasKey $topo "Error" -}}
{{- fail (printf "topology: not a YAML mapping: %s" $topo.Error) -}}
{{- end -}}
{{- $link := default dict $topo.link -}}
{{- if not $link.insecure_dev_link -}}
{{- $dir := include "meridian.linkDir" . -}}
{{- $_ := set $link "ca_file" (printf "%s/ca.crt" $dir) -}}
{{- $_ := set $link "cert_file" (printf "%s/tls.crt" $dir) -}}
{{- $_ := set $link "key_file" (printf "%s/tls.key" $dir) -}}
{{- $_ := set $topo "link" $link -}}
{{- end -}}
{{- $quota := default dict $topo.quota -}}
{{- $redis := default dict $quota.redis -}}
{{- $store := include "meridian.quotaStore" . -}}
{{- if $store -}}{{- $_ := set $quota "store" $store -}}{{- end -}}
{{- if .Values.redis.enabled -}}
{{- $_ := set $redis "url" (include "meridian.redisURL" .) -}}
{{- else if .Values.quota.redis.url -}}
{{- $_ := set $redis "url" .Values.quota.redis.url -}}
{{- end -}}
{{- if .Values.quota.redis.keyPrefix -}}{{- $_ := set $redis "key_prefix" .Values.quota.redis.keyPrefix -}}{{- end -}}
{{- if .Values.quota.redis.passwordSecret.name -}}{{- $_ := set $redis "password_env" "MERIDIAN_REDIS_PASSWORD" -}}{{- end -}}
{{- if $redis -}}{{- $_ := set $quota "redis" $redis -}}{{- end -}}
{{- if $quota -}}{{- $_ := set $topo "quota" $quota -}}{{- end -}}
{{- if .Values.audit.keySecret -}}
{{- $audit := default dict $topo.audit -}}
{{- $_ := set $audit "key_file" (printf "/etc/meridian/audit/%s" .Values.audit.keyKey) -}}
{{- $_ := set $topo "audit" $audit -}}
{{- end -}}
{{ toYaml $topo }}
{{- end -}}

{{/*
meridian.validate fails the render on values that cannot run: a missing
region, a region the topology lacks, replicas without a shared quota
store, a Redis store without a URL, a termination grace period that would
cut the drain short.
*/}}
{{- define "meridian.validate" -}}
{{- if not .Values.region -}}
{{- fail "region: set the id of this release's region in the topology, e.g. --set region=eu-west-1 (one release per region)" -}}
{{- end -}}
{{- $rendered := include "meridian.rendered" . -}}
{{- $topo := include "meridian.topology" . | fromYaml -}}
{{- if $rendered -}}
{{- $ids := list -}}
{{- range $topo.regions -}}{{- $ids = append $ids (toString .id) -}}{{- end -}}
{{- if not (has .Values.region $ids) -}}
{{- fail (printf "region: %q is not a region of the topology (its regions: %s); set region to one of them or add it to topology.regions" .Values.region (join ", " $ids)) -}}
{{- end -}}
{{- end -}}
{{- $link := default dict $topo.link -}}
{{- if and $link.insecure_dev_link (not (has "--dev" .Values.extraArgs)) -}}
{{- fail "topology link.insecure_dev_link: the link would run over plain HTTP, which serve refuses without --dev; remove it (the chart mounts the link certificates from link.secretName)" -}}
{{- end -}}
{{- $store := include "meridian.quotaStore" . -}}
{{- if and $store (not (has $store (list "memory" "redis"))) -}}
{{- fail (printf "quota.store: %q is not a quota store; use memory (one replica) or redis (several replicas)" $store) -}}
{{- end -}}
{{- if and .Values.redis.enabled (eq (toString .Values.quota.store) "memory") -}}
{{- fail "quota.store: memory contradicts redis.enabled=true; remove quota.store or set it to redis" -}}
{{- end -}}
{{- if and .Values.redis.enabled .Values.quota.redis.url -}}
{{- fail "quota.redis.url and redis.enabled=true both name a Redis; keep one (quota.redis.url for your own Redis, redis.enabled for one in this release)" -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne $store "redis") -}}
{{- fail (printf "replicaCount: %d replicas need the redis quota store (quota.store is %q): each replica of a memory store would admit the region's full limits. Set redis.enabled=true, or quota.store=redis with quota.redis.url pointing at your own Redis (with existingTopology: set quota.store=redis once its quota section uses redis)" (int .Values.replicaCount) (default "memory" $store)) -}}
{{- end -}}
{{- if and $rendered (eq $store "redis") -}}
{{- $q := default dict $topo.quota -}}
{{- $r := default dict $q.redis -}}
{{- if not $r.url -}}
{{- fail "quota.redis.url: the redis quota store needs a URL; set quota.redis.url (your own Redis, e.g. redis://redis.meridian.svc:6379/0) or redis.enabled=true" -}}
{{- end -}}
{{- end -}}
{{- if lt (int .Values.replicaCount) 1 -}}
{{- fail "replicaCount: use at least 1" -}}
{{- end -}}
{{- $drain := include "meridian.drainSeconds" . | float64 -}}
{{- $tgp := int .Values.terminationGracePeriodSeconds -}}
{{- if and (gt $tgp 0) (le (float64 $tgp) $drain) -}}
{{- fail (printf "terminationGracePeriodSeconds: %d does not exceed server.drain_timeout + server.drain_grace (%gs): the kubelet would kill in-flight requests; raise it or set 0 for the default" $tgp $drain) -}}
{{- end -}}
{{- end -}}

{{/*
meridian.drainTimeoutSeconds and meridian.drainGraceSeconds are
server.drain_timeout (default 30s) and server.drain_grace (default 5s) in
seconds, from the rendered topology, or drain.* with existingTopology.
*/}}
{{- define "meridian.drainTimeoutSeconds" -}}
{{- $timeout := .Values.drain.timeout -}}
{{- if include "meridian.rendered" . -}}
{{- $server := default dict (include "meridian.baseTopology" . | fromYaml).server -}}
{{- $timeout = "30s" -}}
{{- if and (hasKey $server "drain_timeout") (not (kindIs "invalid" $server.drain_timeout)) -}}{{- $timeout = $server.drain_timeout -}}{{- end -}}
{{- end -}}
{{- $s := include "meridian.seconds" (dict "d" $timeout "field" "server.drain_timeout") | float64 -}}
{{- if eq $s 0.0 -}}30{{- else -}}{{ $s }}{{- end -}}
{{- end -}}

{{- define "meridian.drainGraceSeconds" -}}
{{- $grace := .Values.drain.grace -}}
{{- if include "meridian.rendered" . -}}
{{- $server := default dict (include "meridian.baseTopology" . | fromYaml).server -}}
{{- $grace = "5s" -}}
{{- if and (hasKey $server "drain_grace") (not (kindIs "invalid" $server.drain_grace)) -}}{{- $grace = $server.drain_grace -}}{{- end -}}
{{- end -}}
{{- include "meridian.seconds" (dict "d" $grace "field" "server.drain_grace") -}}
{{- end -}}

{{- define "meridian.drainSeconds" -}}
{{- addf (include "meridian.drainTimeoutSeconds" . | float64) (include "meridian.drainGraceSeconds" . | float64) -}}
{{- end -}}

{{- define "meridian.terminationGracePeriodSeconds" -}}
{{- if gt (int .Values.terminationGracePeriodSeconds) 0 -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (include "meridian.drainSeconds" . | float64 | ceil | int) 15 -}}
{{- end -}}
{{- end -}}

{{/* meridian.podSelectorLabels select the gateway's pods (not Redis). */}}
{{- define "meridian.podSelectorLabels" -}}
{{ include "meridian.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end -}}
