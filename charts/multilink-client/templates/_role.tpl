{{/* What makes this chart the gateway end: its role and the spec's port value. */}}

{{- define "multilink.role" -}}client{{- end }}

{{- define "multilink.apiPortKey" -}}apiMultilinkClientPort{{- end }}

{{- define "multilink.apiPort" -}}{{ .Values.api.envVars.apiMultilinkClientPort }}{{- end }}

{{/*
With clientConfig.serverToken the config file carries the hub's token
(server_token), so it goes into a Secret instead of a ConfigMap.
*/}}
{{- define "multilink.configIsSecret" -}}{{ if .Values.clientConfig.serverToken }}true{{ end }}{{- end }}
