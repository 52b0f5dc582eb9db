// The finding codes: istioctl's (IST*, pkg/config/analysis/msg/messages.yaml), Kiali's (KIA*, its validation
// messages) and the project's own (CNS*) where neither has a check.



/** Every code the analysis can report, with what it means (the lint CLI prints this list with --codes). */
export const FINDING_CODES = {
  CNS0001: 'YAML syntax error',
  CNS0002: 'document is not a Kubernetes object (no apiVersion, kind or metadata.name), or a path does not exist',
  CNS0003: 'no schema known for this apiVersion/kind (not validated)',
  CNS0004: 'the same object (group, kind, namespace, name) is defined twice',
  CNS0005: 'field unknown to the Istio schema: a typo, or newer than the schema package (warning)',
  CNS0101: 'Deployment selector does not match its pod template labels',
  CNS0102: 'Service selector matches no workload',
  CNS0103: 'ServiceAccount referenced by a workload is not defined',
  CNS0104: 'probe port is not a container port',
  CNS0105: 'VirtualService destination port is not a port of the Service',
  CNS0106: 'AuthorizationPolicy selector matches no workload',
  CNS0107: 'AuthorizationPolicy principal names a ServiceAccount that is not defined',
  CNS0108: 'container securityContext is not hardened (warning)',
  CNS0109: 'container has no resource requests or limits (warning)',
  CNS0110: 'container has no liveness or readiness probe (warning)',
  CNS0112: 'secretKeyRef names a Secret or key that is not defined',
  CNS0113: 'StatefulSet serviceName names no Service',
  CNS0114: 'redirect code Istio accepts but cannot translate (not 301/302/303/307/308): Envoy rejects the route',
  CNS0111: 'pod labels version and app.kubernetes.io/version differ: telemetry and Kiali show one, subsets select the other (warning)',
  CNS0301: 'Gateway API object refused by its CRD schema (the API server refuses it)',
  CNS0302: 'Gateway API object refused by a CEL rule of its CRD (the API server refuses it)',
  CNS0303: 'a VirtualService and an HTTPRoute route the same host on the same port (warning)',
  CNS0201: 'Dockerfile final stage runs as root',
  CNS0202: 'Dockerfile has no multi-stage build',
  CNS0203: 'Dockerfile base image not pinned to a version',
  CNS0204: 'Dockerfile final stage installs dev dependencies',
  CNS0205: 'Dockerfile COPY/ADD source does not exist in the build context',
  CNS0206: 'Dockerfile has no ignore file (the whole repository is sent as build context)',
  CNS0207: 'Dockerfile final stage copies tests into the image',
  IST0106: 'schema or Istio validation error',
  IST0118: 'Service port name does not follow the Istio naming convention',
  IST0130: 'VirtualService rule can never be used (after a catch-all rule)',
  IST0131: 'VirtualService match is ineffective (an earlier match already covers it)',
  IST0132: 'VirtualService host not exposed by its Gateway',
  IST0173: 'DestinationRule subset selects no pods',
  KIA0201: 'several DestinationRules for the same host and subset',
  KIA0202: 'DestinationRule host not found',
  KIA0209: 'DestinationRule subset has no labels',
  KIA0701: 'no workload exposes the Service target port',
  KIA1101: 'VirtualService destination host not found',
  KIA1102: 'VirtualService gateway not found',
  KIA1105: 'same destination repeated in one route',
  KIA1106: 'several VirtualServices for the same host and gateway',
  KIA1107: 'VirtualService subset not found',
} as const;

export type FindingCode = keyof typeof FINDING_CODES;
