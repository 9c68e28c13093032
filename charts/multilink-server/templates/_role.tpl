{{/* What makes this chart the hub end: its role and the spec's port value. */}}

{{- define "multilink.role" -}}server{{- end }}

{{- define "multilink.apiPortKey" -}}apiMultilinkServerPort{{- end }}

{{- define "multilink.apiPort" -}}{{ .Values.api.envVars.apiMultilinkServerPort }}{{- end }}

{{/* The server's config file holds no secret: a ConfigMap. */}}
{{- define "multilink.configIsSecret" -}}{{- end }}
