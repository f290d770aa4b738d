{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "perpwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Resource-name prefix: "<release>-<chart>", or the release name when it already contains the
chart name. Truncated to leave room for the "-<component>" suffixes within 63 characters.
*/}}
{{- define "perpwatch.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"<fullname>-<component>". Argument: dict "root" $ "component" NAME.
*/}}
{{- define "perpwatch.componentFullname" -}}
{{- printf "%s-%s" (include "perpwatch.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "perpwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource of the release. Argument: the root context.
*/}}
{{- define "perpwatch.commonLabels" -}}
helm.sh/chart: {{ include "perpwatch.chart" . }}
app.kubernetes.io/name: {{ include "perpwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: perpwatch
{{- end }}

{{/*
Selector labels of one component (a service or a hook Job); they never change across upgrades.
Argument: dict "root" $ "component" NAME.
*/}}
{{- define "perpwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "perpwatch.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Full labels of one component. Argument: dict "root" $ "component" NAME.
*/}}
{{- define "perpwatch.labels" -}}
{{ include "perpwatch.commonLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Image reference: digest wins over tag; the tag defaults to the chart's appVersion.
*/}}
{{- define "perpwatch.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Secret holding PERPWATCH_DATABASE_URL for the long-running services.
*/}}
{{- define "perpwatch.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "perpwatch.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Secret holding PERPWATCH_DATABASE_URL for the hook Jobs. Pre-install hooks run before the
release's ordinary resources exist, so a chart-created URL is handed to them through a
separate hook Secret (deleted again once the hooks succeed).
*/}}
{{- define "perpwatch.hookDatabaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-hook-database" (include "perpwatch.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Non-secret PERPWATCH_* settings as a YAML map: the env ConfigMap's data, and inlined into the
hook Jobs (which run before that ConfigMap exists).
*/}}
{{- define "perpwatch.configEnv" -}}
PERPWATCH_KAFKA_BOOTSTRAP: {{ .Values.kafka.bootstrap | quote }}
PERPWATCH_METRICS_PORT: {{ .Values.metrics.port | quote }}
PERPWATCH_LOG_LEVEL: {{ .Values.logging.level | quote }}
PERPWATCH_LOG_FORMAT: {{ .Values.logging.format | quote }}
PERPWATCH_TOPIC_PARTITIONS: {{ .Values.topics.partitions | quote }}
PERPWATCH_TOPIC_REPLICATION: {{ .Values.topics.replication | quote }}
PERPWATCH_SINK_BATCH_ROWS: {{ .Values.sink.batchRows | quote }}
PERPWATCH_SINK_MAX_BACKOFF_S: {{ .Values.sink.maxBackoffSeconds | quote }}
{{- end }}

{{/*
Database URL Secret data (shared by the ordinary and the hook Secret).
*/}}
{{- define "perpwatch.databaseSecretData" -}}
{{ .Values.database.existingSecretKey }}: {{ required "database.url is required when database.existingSecret is empty" .Values.database.url | b64enc | quote }}
{{- end }}

{{/*
Volumes backing the writable paths of a read-only root filesystem.
*/}}
{{- define "perpwatch.scratchVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimit }}
- name: state
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimit }}
{{- end }}

{{- define "perpwatch.scratchVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: /var/lib/perpwatch
{{- end }}

{{/*
Pod-spec fields shared by Deployments and hook Jobs.
*/}}
{{- define "perpwatch.podCommon" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
# The app never calls the Kubernetes API.
automountServiceAccountToken: false
# Service links would inject <SERVICE>_PORT variables; a Service named e.g. "perpwatch-metrics"
# would shadow PERPWATCH_METRICS_PORT.
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
