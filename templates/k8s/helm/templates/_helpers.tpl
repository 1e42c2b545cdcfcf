{{- /* The pod template every workload kind shares; values come from the compiler. */ -}}
{{- define "flowpipe.pod" -}}
{{- $pod := .pod -}}
metadata:
  labels:
    {{- toYaml $pod.labels | nindent 4 }}
  annotations:
    {{- toYaml $pod.annotations | nindent 4 }}
spec:
  {{- with $pod.service_account }}
  serviceAccountName: {{ . | quote }}
  {{- end }}
  {{- with $pod.image_pull_secrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $pod.runtime_class }}
  runtimeClassName: {{ . | quote }}
  {{- end }}
  restartPolicy: {{ $pod.restart_policy }}
  terminationGracePeriodSeconds: {{ $pod.grace_seconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: runtime
      image: {{ $pod.image | quote }}
      imagePullPolicy: {{ $pod.pull_policy }}
      args: ["/config/flow.yaml"]
      env:
        {{- toYaml $pod.env | nindent 8 }}
      ports:
        - name: http-metrics
          containerPort: {{ $pod.port }}
          protocol: TCP
      {{- with $pod.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      livenessProbe:
        httpGet: {path: /healthz, port: http-metrics}
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet: {path: /readyz, port: http-metrics}
        periodSeconds: 5
        failureThreshold: 1
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
          {{- with $pod.capabilities }}
          add:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      volumeMounts:
        - {name: config, mountPath: /config, readOnly: true}
        - {name: tmp, mountPath: /tmp}
  volumes:
    - name: config
      configMap:
        name: {{ $pod.config_map | quote }}
    - name: tmp
      emptyDir: {}
{{- end -}}
