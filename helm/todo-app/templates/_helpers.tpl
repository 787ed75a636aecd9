{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "todo-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of the chart's object names (the four Services keep the contract's fixed names).
With the release `todo-app` this is just `todo-app`.
*/}}
{{- define "todo-app.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
helm.sh/chart label value.
*/}}
{{- define "todo-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component; immutable in Deployments and StatefulSets, so nothing
that changes between releases (the version) belongs here.
Usage: include "todo-app.selectorLabels" (dict "ctx" $ "component" "backend")
*/}}
{{- define "todo-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-app.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
All labels of an object: the plan's `app: todo-chatbot` / `component: <name>` (its
`kubectl wait -l app=todo-chatbot` relies on them) beside the recommended app.kubernetes.io/*.
The version is the chart's appVersion unless given (PostgreSQL gives its own image tag).
Usage: include "todo-app.labels" (dict "ctx" $ "component" "backend" ["version" "16-alpine"])
*/}}
{{- define "todo-app.labels" -}}
app: todo-chatbot
component: {{ .component }}
{{ include "todo-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .version | default .ctx.Chart.AppVersion | toString | quote }}
app.kubernetes.io/part-of: todo-chatbot
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ include "todo-app.chart" .ctx }}
{{- end }}

{{/*
Image reference of one of the three images; an empty tag falls back to the appVersion.
Usage: include "todo-app.image" (dict "ctx" $ "image" .Values.images.backend)
*/}}
{{- define "todo-app.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .ctx.Chart.AppVersion | toString) }}
{{- end }}

{{/*
Names of the ConfigMap and the Secret the pods read.
*/}}
{{- define "todo-app.configMapName" -}}
{{- printf "%s-config" (include "todo-app.fullname" .) }}
{{- end }}

{{- define "todo-app.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "todo-app.fullname" .) }}
{{- end }}
{{- end }}

{{/*
"true" when the in-cluster PostgreSQL is deployed: enabled and no external URL given.
*/}}
{{- define "todo-app.postgresql.inCluster" -}}
{{- if and .Values.postgresql.enabled (not .Values.secrets.databaseUrl) }}true{{ end }}
{{- end }}

{{/*
Public URL of the app (BETTER_AUTH_URL, AUTH_ISSUER, AUTH_AUDIENCE).
*/}}
{{- define "todo-app.publicUrl" -}}
{{- .Values.secrets.betterAuthUrl | default (printf "http://%s" .Values.ingress.host) }}
{{- end }}

{{/*
An env var from the ConfigMap. Usage: include "todo-app.configEnv" (dict "ctx" $ "name" "LOG_LEVEL")
*/}}
{{- define "todo-app.configEnv" -}}
- name: {{ .name }}
  valueFrom:
    configMapKeyRef:
      name: {{ include "todo-app.configMapName" .ctx }}
      key: {{ .name }}
{{- end }}

{{/*
An env var from the Secret. Usage: include "todo-app.secretEnv" (dict "ctx" $ "name" "DATABASE_URL" "key" "DATABASE_URL" "optional" false)
*/}}
{{- define "todo-app.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-app.secretName" .ctx }}
      key: {{ .key | default .name }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/*
Probes of an HTTP service. Usage:
include "todo-app.httpProbes" (dict "ctx" $ "port" "http" "ready" "/ready" "live" "/health")
*/}}
{{- define "todo-app.httpProbes" -}}
{{- $p := .ctx.Values.probes -}}
{{- $ready := get ($p.readinessPath | default dict) .component | default .ready -}}
{{- if $p.startup.enabled -}}
startupProbe:
  httpGet:
    path: {{ .live }}
    port: {{ .port }}
  periodSeconds: {{ $p.startup.periodSeconds }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
{{ end -}}
readinessProbe:
  httpGet:
    path: {{ $ready }}
    port: {{ .port }}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
livenessProbe:
  httpGet:
    path: {{ .live }}
    port: {{ .port }}
  {{- if not $p.startup.enabled }}
  initialDelaySeconds: {{ $p.liveness.initialDelaySeconds }}
  {{- end }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
{{- end }}

{{/*
Spreads a component's replicas over the nodes (topologySpread.enabled), softly: a pod that
cannot be spread is still scheduled. Renders nothing when off.
Usage: include "todo-app.topologySpread" (dict "ctx" $ "component" "backend")
*/}}
{{- define "todo-app.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled -}}
topologySpreadConstraints:
  - maxSkew: {{ .ctx.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "todo-app.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end }}

{{/*
Pod annotations: the environment, the caller's extras, and checksums of the ConfigMap and the
Secret so that changing a value rolls the pods (env vars are read only at container start).
*/}}
{{- define "todo-app.podAnnotations" -}}
todo-app/environment: {{ .Values.environment | quote }}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include "todo-app.secretChecksum" . }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Checksum of the secrets the pods read: the resolved values (given, kept or generated) and
the name of an existing Secret, so a changed secret rolls the pods and an upgrade that keeps
every value restarts nothing.
*/}}
{{- define "todo-app.secretChecksum" -}}
{{- $s := include "todo-app.secrets" . | fromJson }}
{{- toJson (dict "data" $s.data "existingSecret" .Values.secrets.existingSecret) | sha256sum }}
{{- end }}

{{/*
The release's secrets, resolved once per render and returned as JSON:
  {"data": {ENV_NAME: value, ...}, "generated": [value names], "kept": [value names]}
The result is memoised on the root context, so the Secret, the pods' checksum and NOTES all
see the same values (a second randAlphaNum would differ).

betterAuthSecret, mcpServiceToken and, with the in-cluster PostgreSQL, postgresPassword:
  1. a value given (--set, -f) always wins;
  2. otherwise the value in the release's existing Secret (`lookup`): an upgrade keeps it;
  3. otherwise a new random one (first install): 48 letters and digits, URL-safe as
     DATABASE_URL needs.
`lookup` has no cluster under `helm template`, `helm lint` and a client-side `--dry-run`, so
those render fresh random values each time: never a stable source of secrets.
With secrets.existingSecret nothing is looked up or generated (data stays empty).
Usage: $s := include "todo-app.secrets" . | fromJson
*/}}
{{- define "todo-app.secrets" -}}
{{- if not (hasKey $ "todoAppResolvedSecrets") }}
{{- $given := .Values.secrets }}
{{- $data := dict }}
{{- $generated := list }}
{{- $kept := list }}
{{- if not $given.existingSecret }}
{{- $existing := dict }}
{{- with lookup "v1" "Secret" .Release.Namespace (include "todo-app.secretName" .) }}
{{- $existing = .data | default dict }}
{{- end }}
{{- $inCluster := include "todo-app.postgresql.inCluster" . }}
{{- $keys := list (list "BETTER_AUTH_SECRET" "betterAuthSecret") (list "MCP_SERVICE_TOKEN" "mcpServiceToken") }}
{{- if $inCluster }}
{{- $keys = append $keys (list "POSTGRES_PASSWORD" "postgresPassword") }}
{{- end }}
{{- range $keys }}
{{- $env := index . 0 }}
{{- $name := index . 1 }}
{{- $value := get $given $name }}
{{- if not $value }}
{{- if index $existing $env }}
{{- $value = index $existing $env | b64dec }}
{{- $kept = append $kept $name }}
{{- else }}
{{- $value = randAlphaNum 48 }}
{{- $generated = append $generated $name }}
{{- end }}
{{- end }}
{{- $_ := set $data $env $value }}
{{- end }}
{{- if $inCluster }}
{{- $_ := set $data "DATABASE_URL" (printf "postgresql://todo:%s@postgres-service:5432/todo" $data.POSTGRES_PASSWORD) }}
{{- else }}
{{- $_ := set $data "DATABASE_URL" $given.databaseUrl }}
{{- end }}
{{- with $given.openaiApiKey }}
{{- $_ := set $data "OPENAI_API_KEY" . }}
{{- end }}
{{- end }}
{{- $_ := set $ "todoAppResolvedSecrets" (dict "data" $data "generated" $generated "kept" $kept) }}
{{- end }}
{{- toJson (get $ "todoAppResolvedSecrets") }}
{{- end }}
