{{/*
Helpers shared by multilink-server and multilink-client: this file, and
deployment.yaml, service.yaml, secret.yaml, servicemonitor.yaml and
dashboard.yaml, are the same in both charts (packaging/ checks it). What
differs lives in _role.tpl, config.yaml and NOTES.txt.
*/}}

{{- define "multilink.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "multilink.fullname" -}}
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

{{- define "multilink.selectorLabels" -}}
app.kubernetes.io/name: {{ include "multilink.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "multilink.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "multilink.selectorLabels" . }}
app.kubernetes.io/component: {{ include "multilink.role" . }}
app.kubernetes.io/part-of: multilink
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* repository:tag, plus @digest when one is given (the digest then decides). */}}
{{- define "multilink.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "multilink.tokenSecretName" -}}
{{- .Values.token.existingSecret | default (printf "%s-token" (include "multilink.fullname" .)) }}
{{- end }}

{{- define "multilink.tokenSecretKey" -}}
{{- if .Values.token.existingSecret }}{{ .Values.token.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{- define "multilink.configName" -}}
{{- printf "%s-config" (include "multilink.fullname" .) }}
{{- end }}

{{/*
The API port: the spec's api.envVars.apiMultilink{Server,Client}Port. On the
host network the container port is the host port the daemon binds, so the
spec's containerPort and targetPort must say the same; a mismatch would
leave the Service and the probes knocking on a closed port.
*/}}
{{- define "multilink.port" -}}
{{- $port := include "multilink.apiPort" . | int }}
{{- $p := .Values.api.service.ports.api }}
{{- if ne ($p.containerPort | int) $port }}
{{- fail (printf "api.service.ports.api.containerPort (%v) must equal api.envVars.%s (%d): with hostNetwork the container port is the host port the daemon listens on" $p.containerPort (include "multilink.apiPortKey" .) $port) }}
{{- end }}
{{- if ne ($p.targetPort | int) $port }}
{{- fail (printf "api.service.ports.api.targetPort (%v) must equal api.envVars.%s (%d), the port the daemon listens on" $p.targetPort (include "multilink.apiPortKey" .) $port) }}
{{- end }}
{{- $port }}
{{- end }}
