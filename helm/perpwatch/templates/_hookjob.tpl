{{/*
A pre-install/pre-upgrade hook Job running one perpwatch command.
Argument: dict "root" $ "component" NAME "args" LIST "weight" STRING "database" BOOL.
It runs before the release's ConfigMap and Secret exist, so settings are inlined and the
database URL comes from the hook Secret (or the existing Secret).
*/}}
{{- define "perpwatch.hookJob" -}}
{{- $root := .root }}
{{- $ctx := dict "root" $root "component" .component }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "perpwatch.componentFullname" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "perpwatch.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $root.Values.jobs.backoffLimit }}
  activeDeadlineSeconds: {{ $root.Values.jobs.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "perpwatch.labels" $ctx | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      restartPolicy: Never
      {{- include "perpwatch.podCommon" $root | trim | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "perpwatch.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- range .args }}
            - {{ . | quote }}
            {{- end }}
          env:
            {{- range $key, $value := (include "perpwatch.configEnv" $root | fromYaml) }}
            - name: {{ $key }}
              value: {{ $value | quote }}
            {{- end }}
            {{- if .database }}
            - name: PERPWATCH_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "perpwatch.hookDatabaseSecretName" $root }}
                  key: {{ $root.Values.database.existingSecretKey }}
            {{- end }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $root.Values.jobs.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            {{- include "perpwatch.scratchVolumeMounts" $root | nindent 12 }}
      volumes:
        {{- include "perpwatch.scratchVolumes" $root | nindent 8 }}
{{- end }}
