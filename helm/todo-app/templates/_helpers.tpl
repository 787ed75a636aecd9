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
startupProbe:
  httpGet:
    path: {{ .live }}
    port: {{ .port }}
  periodSeconds: {{ $p.startup.periodSeconds }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
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
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
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
Checksum of what the Secret is made from (the values, not the rendered template, so the
presence checks below run once per render).
*/}}
{{- define "todo-app.secretChecksum" -}}
{{- toJson .Values.secrets | sha256sum }}
{{- end }}

{{/*
Fail early, with the value's name, when a secret the chart needs is missing.
The schema checks lengths and formats of the values that are set; presence is checked here
because `helm lint` (which must pass without secrets) renders with `required` downgraded to
an info message.
*/}}
{{- define "todo-app.validateSecrets" -}}
{{- if not .Values.secrets.existingSecret }}
{{- $_ := required "secrets.betterAuthSecret is required (32+ characters), or set secrets.existingSecret" .Values.secrets.betterAuthSecret }}
{{- $_ := required "secrets.mcpServiceToken is required (16+ characters), or set secrets.existingSecret" .Values.secrets.mcpServiceToken }}
{{- if include "todo-app.postgresql.inCluster" . }}
{{- $_ := required "secrets.postgresPassword is required for the in-cluster PostgreSQL (16+ URL-safe characters); or give secrets.databaseUrl or secrets.existingSecret" .Values.secrets.postgresPassword }}
{{- end }}
{{- end }}
{{- end }}
