{{/* Labels of every object: config/default's plus Helm's own. */}}
{{- define "kickq.labels" -}}
app.kubernetes.io/name: kickq
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The manager's pods (the selector of its Deployment, Services, NetworkPolicy, PDB). */}}
{{- define "kickq.selector" -}}
app.kubernetes.io/name: kickq
app.kubernetes.io/component: manager
{{- end }}

{{- define "kickq.managerLabels" -}}
{{ include "kickq.labels" . }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "kickq.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{- define "kickq.reportURL" -}}
{{ .Values.reportURL | default (printf "http://kickq-report.%s.svc:8082" .Release.Namespace) }}
{{- end }}
