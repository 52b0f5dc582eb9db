/**
 * Whole-set analysis of Kubernetes + Istio objects, modelled on `istioctl analyze` and Kiali's validations:
 * schema errors, then every cross-reference between Deployments, Services, Gateways, VirtualServices,
 * DestinationRules, ServiceAccounts and AuthorizationPolicies. Codes and texts follow istioctl (IST*) and Kiali
 * (KIA*); checks neither has use project codes (CNS*).
 *
 * The input must already be one consistent set (a base with optional files applied through `mergeObjects`):
 * two objects with the same identity are reported, not merged.
 */
import type {
  Container,
  Deployment,
  DestinationRule,
  Finding,
  Gateway,
  HTTPMatchRequest,
  HTTPRoute,
  HTTPRouteDestination,
  LoadedObject,
  Service,
  ServicePort,
  VirtualService,
} from '../model';
// Gateway server hosts against VirtualService hosts with the data plane's own rule (one definition of `*.x`).
import { gatewayServerHost, hasNoMatch, hostMatches, istioKindOf, parseDuration, parseServiceHost, regexError, resolveGatewayRef, REVISION_LABELS } from '../istio';
import { isPlainObject, lineOf } from './load';
import { namespaceOf, objectKey, objectRef } from './merge';
import { SCHEMA_ERROR, formatPath, validateSchema } from './schema';
import { checkRoutingOverlap } from '../gateway-api/analyze';

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

/**
 * The findings Istio's API server itself refuses an object for (the CRD schema and the validating webhook,
 * istio/istio pkg/config/validation): IST0106, plus objects that cannot be read at all. Everything else is what
 * `istioctl analyze` / Kiali report about a set of objects; a cluster accepts such objects, so the running mesh
 * applies them and shows these findings as warnings (`npm run lint:manifests` still fails on them).
 */
const REFUSED_ON_APPLY: ReadonlySet<string> = new Set([SCHEMA_ERROR, 'CNS0001', 'CNS0002', 'CNS0301', 'CNS0302']);

export function refusedOnApply(finding: Finding): boolean {
  return finding.severity === 'error' && REFUSED_ON_APPLY.has(finding.code);
}

/** Istio's port naming convention: `<protocol>[-<suffix>]` (used when a port has no `appProtocol`). */
const ISTIO_PORT_NAME = /^(http|http2|https|grpc|grpc-web|h2c|mongo|mysql|redis|tcp|tls|udp)(-.*)?$/i;
const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure', 'cancelled',
  'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

interface Workload {
  loaded: LoadedObject<Deployment>;
  namespace: string;
  podLabels: Record<string, string>;
  containers: Container[];
}

/** Everything the checks look things up in, built once per analysis. */
class Index {
  readonly workloads: Workload[] = [];
  readonly services = new Map<string, LoadedObject<Service>>(); // key `name.namespace`
  readonly serviceEntryHosts = new Set<string>();
  readonly gateways = new Map<string, LoadedObject<Gateway>>(); // key `namespace/name`
  readonly virtualServices: LoadedObject<VirtualService>[] = [];
  readonly destinationRules: LoadedObject<DestinationRule>[] = [];
  readonly serviceAccounts = new Set<string>(); // `namespace/name`
  readonly secretKeys = new Map<string, Set<string>>(); // `namespace/name` → keys of data and stringData
  readonly namespaces = new Set<string>();

  constructor(objects: LoadedObject[]) {
    for (const loaded of objects) {
      const { object } = loaded;
      const namespace = namespaceOf(object);
      this.namespaces.add(namespace);
      const spec = (isPlainObject(object.spec) ? object.spec : {}) as Record<string, unknown>;
      const istioKind = istioKindOf(object)?.kind;
      if (WORKLOAD_KINDS.has(object.kind) && object.apiVersion.startsWith('apps/')) {
        const template = isPlainObject(spec.template) ? spec.template : {};
        const podSpec = isPlainObject(template.spec) ? template.spec : {};
        this.workloads.push({
          loaded: loaded as LoadedObject<Deployment>,
          namespace,
          podLabels: labelsOf(isPlainObject(template.metadata) ? template.metadata.labels : undefined),
          containers: asArray(podSpec.containers).filter(isPlainObject) as unknown as Container[],
        });
      } else if (object.kind === 'Service' && object.apiVersion === 'v1') {
        this.services.set(`${object.metadata.name}.${namespace}`, loaded as LoadedObject<Service>);
      } else if (object.kind === 'ServiceAccount' && object.apiVersion === 'v1') {
        this.serviceAccounts.add(`${namespace}/${object.metadata.name}`);
      } else if (object.kind === 'Gateway' && object.apiVersion.startsWith('gateway.networking.k8s.io/') && isPlainObject(object.spec) && object.spec.gatewayClassName === 'istio') {
        // Istio deploys a Gateway of class istio with its own ServiceAccount `<name>-istio`.
        this.serviceAccounts.add(`${namespace}/${object.metadata.name}-istio`);
      } else if (object.kind === 'Secret' && object.apiVersion === 'v1') {
        const record = object as unknown as Record<string, unknown>;
        const keys = [record.data, record.stringData].flatMap((d) => (isPlainObject(d) ? Object.keys(d) : []));
        this.secretKeys.set(`${namespace}/${object.metadata.name}`, new Set(keys));
      } else if (istioKind === 'ServiceEntry') {
        for (const host of asArray(spec.hosts)) if (typeof host === 'string') this.serviceEntryHosts.add(host);
      } else if (istioKind === 'Gateway') {
        this.gateways.set(`${namespace}/${object.metadata.name}`, loaded as LoadedObject<Gateway>);
      } else if (istioKind === 'VirtualService') {
        this.virtualServices.push(loaded as LoadedObject<VirtualService>);
      } else if (istioKind === 'DestinationRule') {
        this.destinationRules.push(loaded as LoadedObject<DestinationRule>);
      }
    }
  }

  /** The Service a mesh host names (`web-api`, `web-api.default`, `web-api.default.svc.cluster.local`). */
  serviceFor(host: string, namespace: string): LoadedObject<Service> | undefined {
    const name = serviceKey(host, namespace);
    return name ? this.services.get(name) : undefined;
  }

  hostExists(host: string, namespace: string): boolean {
    return this.serviceFor(host, namespace) !== undefined || this.serviceEntryHosts.has(host);
  }

  /** Workloads whose pod labels contain every label of `selector`, in `namespace`. */
  workloadsSelectedBy(selector: Record<string, string>, namespace: string): Workload[] {
    return this.workloads.filter((w) => w.namespace === namespace && containsLabels(w.podLabels, selector));
  }

  /** Subset names defined for a host, or undefined when no DestinationRule covers the host. */
  subsetsFor(host: string, namespace: string): Set<string> | undefined {
    const key = serviceKey(host, namespace) ?? host;
    let names: Set<string> | undefined;
    for (const dr of this.destinationRules) {
      const drHost = dr.object.spec?.host;
      if (typeof drHost !== 'string' || (serviceKey(drHost, namespaceOf(dr.object)) ?? drHost) !== key) continue;
      names ??= new Set();
      for (const subset of asArray(dr.object.spec?.subsets)) {
        if (isPlainObject(subset) && typeof subset.name === 'string') names.add(subset.name);
      }
    }
    return names;
  }

  /** `mesh` or `namespace/name` of a gateway reference, as a VirtualService writes it. */
  resolveGateway(reference: string, namespace: string): string {
    return resolveGatewayRef(reference, namespace);
  }
}

/**
 * Schema validation plus every cross-reference check over one set of objects (Kubernetes and Istio together).
 * Findings are sorted by file, line and code.
 */
export function analyzeManifests(objects: LoadedObject[]): Finding[] {
  const findings: Finding[] = [];
  const schemaBroken = new Set<LoadedObject>();
  for (const loaded of objects) {
    const schemaFindings = validateSchema(loaded);
    if (schemaFindings.some((f) => f.severity === 'error')) schemaBroken.add(loaded);
    findings.push(...schemaFindings);
  }
  findings.push(...checkDuplicates(objects));

  const index = new Index(objects);
  const report = reporter(findings);
  for (const workload of index.workloads) checkWorkload(workload, index, report);
  for (const service of index.services.values()) checkService(service, index, report);
  for (const vs of index.virtualServices) checkVirtualService(vs, index, report);
  checkVirtualServiceOverlap(index, report);
  for (const dr of index.destinationRules) checkDestinationRule(dr, index, report);
  checkDestinationRuleOverlap(index, report);
  findings.push(...checkRoutingOverlap(objects));
  for (const loaded of objects) {
    if (istioKindOf(loaded.object)?.kind === 'AuthorizationPolicy') {
      checkAuthorizationPolicy(loaded, index, report);
    }
  }
  return sortFindings(dedupe(findings));
}

type Report = (
  loaded: LoadedObject,
  code: FindingCode,
  message: string,
  fieldPath?: ReadonlyArray<string | number>,
  severity?: Finding['severity'],
) => void;

function reporter(findings: Finding[]): Report {
  return (loaded, code, message, fieldPath = [], severity = 'error') => {
    findings.push({
      code,
      severity,
      file: loaded.source.file,
      line: lineOf(loaded.object, fieldPath) ?? loaded.source.line,
      object: objectRef(loaded.object),
      message,
    });
  };
}

// ---------------------------------------------------------------- identity

export function checkDuplicates(objects: LoadedObject[]): Finding[] {
  const firstByKey = new Map<string, LoadedObject>();
  const findings: Finding[] = [];
  for (const loaded of objects) {
    const key = objectKey(loaded.object);
    const first = firstByKey.get(key);
    if (!first) {
      firstByKey.set(key, loaded);
      continue;
    }
    const where = `${first.source.file}${first.source.line ? `:${first.source.line}` : ''}`;
    findings.push({
      code: 'CNS0004',
      severity: 'error',
      file: loaded.source.file,
      line: loaded.source.line,
      object: objectRef(loaded.object),
      message: `${objectRef(loaded.object)} in namespace ${namespaceOf(loaded.object)} is already defined in ${where}; applying both keeps only the last`,
    });
  }
  return findings;
}

// ---------------------------------------------------------------- Kubernetes workloads and Services

function checkWorkload(workload: Workload, index: Index, report: Report): void {
  const { loaded } = workload;
  const spec = loaded.object.spec;
  const matchLabels = labelsOf(spec?.selector?.matchLabels);
  for (const [key, value] of Object.entries(matchLabels)) {
    if (workload.podLabels[key] !== value) {
      const actual = key in workload.podLabels ? `${key}=${workload.podLabels[key]}` : `no ${key} label`;
      report(
        loaded,
        'CNS0101',
        `spec.selector does not match spec.template.metadata.labels: selector wants ${key}=${value}, the template has ${actual}`,
        ['spec', 'selector', 'matchLabels', key],
      );
    }
  }

  // Istio's canonical revision (istio_requests_total's *_canonical_revision, Kiali's versions) takes
  // service.istio.io/canonical-revision, then app.kubernetes.io/version, then version (istio/istio
  // pkg/kube/labels); DestinationRule subsets select on version. Two different values split one version in two.
  const labels = workload.podLabels;
  const revisionLabel = REVISION_LABELS.filter((k) => k !== 'version').find((k) => k in labels);
  if (revisionLabel && labels.version !== undefined && labels[revisionLabel] !== labels.version) {
    report(
      loaded,
      'CNS0111',
      `pod labels version=${labels.version} and ${revisionLabel}=${labels[revisionLabel]} differ: Istio telemetry and Kiali report ${labels[revisionLabel]} (the canonical revision) where subsets select ${labels.version}`,
      ['spec', 'template', 'metadata', 'labels', revisionLabel],
      'warning',
    );
  }

  const podSpec = spec?.template?.spec as Record<string, unknown> | undefined;
  const serviceAccount = podSpec?.serviceAccountName;
  if (typeof serviceAccount === 'string' && serviceAccount !== 'default' &&
      !index.serviceAccounts.has(`${workload.namespace}/${serviceAccount}`)) {
    report(loaded, 'CNS0103', `serviceAccountName ${serviceAccount} names no ServiceAccount in the manifests`,
      ['spec', 'template', 'spec', 'serviceAccountName']);
  }

  if (loaded.object.kind === 'StatefulSet') {
    const serviceName = (spec as Record<string, unknown> | undefined)?.serviceName;
    if (typeof serviceName === 'string' && !index.services.has(`${serviceName}.${workload.namespace}`)) {
      report(loaded, 'CNS0113', `serviceName ${serviceName} names no Service in the manifests (the StatefulSet's pods get no DNS names)`, ['spec', 'serviceName']);
    }
  }

  workload.containers.forEach((container, c) => {
    asArray(container.env).forEach((variable, e) => {
      const ref = isPlainObject(variable) && isPlainObject(variable.valueFrom) ? variable.valueFrom.secretKeyRef : undefined;
      if (!isPlainObject(ref) || ref.optional === true || typeof ref.name !== 'string') return;
      const keys = index.secretKeys.get(`${workload.namespace}/${ref.name}`);
      const problem = !keys ? `names Secret ${ref.name}, which is not in the manifests` : !keys.has(String(ref.key)) ? `names key ${String(ref.key)}, which Secret ${ref.name} does not have (keys: ${[...keys].join(', ')})` : undefined;
      if (problem) {
        report(loaded, 'CNS0112', `container ${container.name} env ${String((variable as Record<string, unknown>).name)} ${problem}: the pod would not start`,
          ['spec', 'template', 'spec', 'containers', c, 'env', e, 'valueFrom', 'secretKeyRef']);
      }
    });
    const portNames = new Set(asArray(container.ports).map((p) => (isPlainObject(p) ? p.name : undefined)));
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const port = (container as unknown as Record<string, { httpGet?: { port?: unknown } } | undefined>)[probe]?.httpGet?.port;
      if (typeof port === 'string' && !portNames.has(port)) {
        report(loaded, 'CNS0104', `container ${container.name} ${probe} uses port ${port}, which no container port is named`,
          ['spec', 'template', 'spec', 'containers', c, probe, 'httpGet', 'port']);
      }
    }
    checkContainerHardening(loaded, container as unknown as Record<string, unknown>, c, podSpec, report);
  });
}

/**
 * The project's rules for every container (k8s/README.md), as warnings: a hardened securityContext, requests
 * and limits, liveness and readiness probes. Runs as warnings so that the local mesh still accepts a minimal
 * Deployment, while `npm run lint:manifests` and the tests hold the repository's own files to them.
 */
function checkContainerHardening(
  loaded: LoadedObject,
  container: Record<string, unknown>,
  c: number,
  podSpec: Record<string, unknown> | undefined,
  report: Report,
): void {
  const at = ['spec', 'template', 'spec', 'containers', c];
  const name = String(container.name);
  const security = isPlainObject(container.securityContext) ? container.securityContext : {};
  const podSecurity = podSpec && isPlainObject(podSpec.securityContext) ? podSpec.securityContext : {};
  const capabilities = isPlainObject(security.capabilities) ? security.capabilities : {};
  const missing: string[] = [];
  if (security.runAsNonRoot !== true && podSecurity.runAsNonRoot !== true) missing.push('runAsNonRoot: true');
  if (security.readOnlyRootFilesystem !== true) missing.push('readOnlyRootFilesystem: true');
  if (security.allowPrivilegeEscalation !== false) missing.push('allowPrivilegeEscalation: false');
  if (!asArray(capabilities.drop).includes('ALL')) missing.push('capabilities.drop: [ALL]');
  if (missing.length > 0) {
    report(loaded, 'CNS0108', `container ${name} securityContext lacks ${missing.join(', ')}`, [...at, 'securityContext'], 'warning');
  }
  const resources = isPlainObject(container.resources) ? container.resources : {};
  const absent = (['requests', 'limits'] as const).filter((k) => !isPlainObject(resources[k]) || Object.keys(resources[k] as object).length === 0);
  if (absent.length > 0) {
    report(loaded, 'CNS0109', `container ${name} has no resources.${absent.join(' or resources.')}`, [...at, 'resources'], 'warning');
  }
  const probes = (['livenessProbe', 'readinessProbe'] as const).filter((probe) => !isPlainObject(container[probe]));
  if (probes.length > 0) {
    report(loaded, 'CNS0110', `container ${name} has no ${probes.join(' and no ')}`, at, 'warning');
  }
}

function checkService(loaded: LoadedObject<Service>, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const namespace = namespaceOf(loaded.object);
  const ports = asArray(spec?.ports).filter(isPlainObject) as unknown as ServicePort[];
  ports.forEach((port, i) => {
    if (!port.appProtocol && !(port.name && ISTIO_PORT_NAME.test(port.name))) {
      report(loaded, 'IST0118',
        `Port name ${port.name ?? '(none)'} (port: ${port.port}, targetPort: ${port.targetPort ?? port.port}) doesn't follow the naming convention of Istio port; name it http or http-<suffix>, or set appProtocol`,
        ['spec', 'ports', i]);
    }
  });

  const selector = labelsOf(spec?.selector);
  if (Object.keys(selector).length === 0) return; // no selector: endpoints are managed by hand
  const selected = index.workloadsSelectedBy(selector, namespace);
  if (selected.length === 0) {
    report(loaded, 'CNS0102', `selector ${formatLabels(selector)} matches no Deployment's pod labels`, ['spec', 'selector']);
    return;
  }
  ports.forEach((port, i) => {
    const target = port.targetPort ?? port.port;
    const exposed = selected.some((w) =>
      w.containers.some((c) =>
        asArray(c.ports).some((p) => isPlainObject(p) && (typeof target === 'string' ? p.name === target : p.containerPort === target)),
      ),
    );
    if (!exposed) {
      report(loaded, 'KIA0701',
        `Deployment exposing same port as Service not found: no container of ${selected.map((w) => w.loaded.object.metadata.name).join(', ')} has a port ${typeof target === 'string' ? 'named ' : ''}${target}`,
        ['spec', 'ports', i, 'targetPort']);
    }
  });
}

// ---------------------------------------------------------------- VirtualService

function checkVirtualService(loaded: LoadedObject<VirtualService>, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const namespace = namespaceOf(loaded.object);
  const gatewayRefs = asArray(spec?.gateways).filter((g): g is string => typeof g === 'string');

  gatewayRefs.forEach((reference, g) => {
    const resolved = index.resolveGateway(reference, namespace);
    if (resolved === 'mesh') return;
    const gateway = index.gateways.get(resolved);
    if (!gateway) {
      report(loaded, 'KIA1102', `VirtualService is pointing to a non-existent gateway: ${reference}`, ['spec', 'gateways', g]);
      return;
    }
    const serverHosts = asArray(gateway.object.spec?.servers)
      .flatMap((server) => (isPlainObject(server) ? asArray(server.hosts) : []))
      .filter((h): h is string => typeof h === 'string')
      .map(gatewayServerHost);
    const missing = asArray(spec?.hosts).filter((h) => typeof h === 'string' && !serverHosts.some((s) => hostMatches(s, h)));
    if (missing.length > 0) {
      report(loaded, 'IST0132',
        `one or more host [${missing.join(', ')}] defined in VirtualService ${loaded.object.metadata.name} not found in Gateway ${reference}`,
        ['spec', 'hosts']);
    }
  });

  // ValidateVirtualService (istio/istio pkg/config/validation/validation.go).
  if (asArray(spec?.hosts).length === 0 && gatewayRefs.length > 0) {
    report(loaded, SCHEMA_ERROR, 'delegate virtual service must have no gateways specified', ['spec', 'gateways']);
  }
  if (asArray(spec?.http).length === 0 && asArray((spec as Record<string, unknown> | undefined)?.tcp).length === 0 &&
      asArray((spec as Record<string, unknown> | undefined)?.tls).length === 0) {
    report(loaded, SCHEMA_ERROR, 'http, tcp or tls must be provided in virtual service', ['spec']);
  }
  if (gatewayRefs.length === 0 || gatewayRefs.includes('mesh')) {
    asArray(spec?.hosts).forEach((host, h) => {
      if (host === '*') report(loaded, SCHEMA_ERROR, 'wildcard host * is not allowed for virtual services bound to the mesh gateway', ['spec', 'hosts', h]);
    });
  }

  const routes = asArray(spec?.http).filter(isPlainObject) as unknown as HTTPRoute[];
  let catchAll: number | undefined;
  routes.forEach((route, r) => {
    const at = (...rest: Array<string | number>): Array<string | number> => ['spec', 'http', r, ...rest];
    const label = `spec.http[${r}]${route.name ? ` (${route.name})` : ''}`;

    if (catchAll !== undefined) {
      report(loaded, 'IST0130',
        `VirtualService rule #${r} not used (only the last rule can have no matches): rule #${catchAll} before it matches every request`,
        at());
    }

    const actions = (['route', 'redirect', 'directResponse'] as const).filter((k) => route[k] !== undefined);
    if (route.delegate !== undefined) {
      // validateHTTPRouteConflict, RootRoute: the delegate's rules carry the actions.
      if (asArray(spec?.hosts).length === 0) report(loaded, SCHEMA_ERROR, `${label}: delegate HTTP route cannot contain delegate`, at('delegate'));
      for (const action of ['route', 'redirect'] as const) {
        if (route[action] !== undefined) report(loaded, SCHEMA_ERROR, `${label}: root HTTP route ${route.name ?? ''} must not specify ${action}`.replace('  ', ' '), at(action));
      }
    } else if (actions.length > 1) {
      report(loaded, SCHEMA_ERROR, `${label}: HTTP route cannot contain both ${actions[0]} and ${actions[1]}`, at());
    } else if (actions.length === 0) {
      report(loaded, SCHEMA_ERROR, `${label}: HTTP route or redirect or directResponse is required`, at());
    }
    // validateHTTPRouteConflict: a redirect or direct response answers at the proxy, so fault and rewrite cannot apply.
    for (const answer of ['redirect', 'directResponse'] as const) {
      if (route[answer] === undefined) continue;
      for (const other of ['fault', 'rewrite'] as const) {
        if (route[other] !== undefined) report(loaded, SCHEMA_ERROR, `${label}: HTTP route cannot contain both ${other} and ${answer}`, at(other));
      }
    }
    checkMatchRegexes(loaded, route, at, report);
    if (route.rewrite !== undefined) checkRewrite(loaded, route.rewrite, label, at, report);
    const origins = asArray(route.corsPolicy?.allowOrigins);
    origins.forEach((origin, o) => checkStringMatch(loaded, origin, 'corsPolicy.allowOrigins', at('corsPolicy', 'allowOrigins', o), report));

    const destinations = asArray(route.route).filter(isPlainObject) as unknown as HTTPRouteDestination[];
    checkDestinations(loaded, destinations, at, index, report);

    if (route.mirror !== undefined) {
      checkDestination(loaded, route.mirror, at('mirror'), index, report);
      const mirrorValue = route.mirrorPercentage?.value;
      if (typeof mirrorValue === 'number' && (mirrorValue < 0 || mirrorValue > 100)) {
        report(loaded, SCHEMA_ERROR, `${label}: mirror percentage must have a max value of 100 (and be ≥ 0), got ${mirrorValue}`, at('mirrorPercentage'));
      }
    }

    checkDuration(loaded, route.timeout, at('timeout'), report);
    checkDuration(loaded, route.corsPolicy?.maxAge, at('corsPolicy', 'maxAge'), report);
    if (route.retries) {
      checkDuration(loaded, route.retries.perTryTimeout, at('retries', 'perTryTimeout'), report);
      if (typeof route.retries.attempts === 'number' && route.retries.attempts < 0) {
        report(loaded, SCHEMA_ERROR, `${label}: attempts cannot be negative`, at('retries', 'attempts'));
      }
      if (!route.retries.attempts && (route.retries.perTryTimeout !== undefined || route.retries.retryOn || route.retries.retryRemoteLocalities !== undefined)) {
        report(loaded, SCHEMA_ERROR, `${label}: http retry policy configured when attempts are set to 0 (disabled)`, at('retries'));
      }
      if (typeof route.retries.retryOn === 'string') {
        const unknown = route.retries.retryOn.split(',').map((s) => s.trim())
          .filter((policy) => !RETRY_ON.has(policy) && !/^\d{3}$/.test(policy));
        if (unknown.length > 0) {
          report(loaded, SCHEMA_ERROR, `${label}: retryOn contains unknown retry policy ${unknown.join(', ')}`, at('retries', 'retryOn'));
        }
      }
    }

    if (route.fault !== undefined) checkFault(loaded, route, label, at, report);

    // Only a rule without matches hides the rules after it (IST0130); a match it covers is IST0131 (istio/catch-all.ts).
    if (hasNoMatch(route)) catchAll ??= r;
  });

  checkIneffectiveMatches(loaded, routes, report);
}

function checkDestinations(
  loaded: LoadedObject<VirtualService>,
  destinations: HTTPRouteDestination[],
  at: (...rest: Array<string | number>) => Array<string | number>,
  index: Index,
  report: Report,
): void {
  const seen = new Set<string>();
  let total = 0;
  destinations.forEach((routeDestination, d) => {
    const destination = routeDestination.destination;
    checkDestination(loaded, destination, at('route', d, 'destination'), index, report);
    const weight = routeDestination.weight;
    if (typeof weight === 'number') {
      if (weight < 0) report(loaded, SCHEMA_ERROR, `weight ${weight} < 0`, at('route', d, 'weight'));
      else total += weight;
    }
    if (isPlainObject(destination) && typeof destination.host === 'string') {
      const key = `${destination.host}|${destination.subset ?? ''}|${destination.port?.number ?? ''}`;
      if (seen.has(key)) {
        report(loaded, 'KIA1105',
          `This host subset combination is already referenced in another route destination: ${destination.host}${destination.subset ? ` subset ${destination.subset}` : ''}`,
          at('route', d, 'destination'), 'warning');
      }
      seen.add(key);
    }
  });
  // With one destination a missing or zero weight means "everything"; with several the weights are relative.
  if (destinations.length > 1 && total === 0) {
    report(loaded, SCHEMA_ERROR, 'total destination weight = 0', at('route'));
  }
}

function checkDestination(
  loaded: LoadedObject<VirtualService>,
  destination: unknown,
  fieldPath: Array<string | number>,
  index: Index,
  report: Report,
): void {
  const namespace = namespaceOf(loaded.object);
  if (!isPlainObject(destination) || typeof destination.host !== 'string' || destination.host === '') {
    report(loaded, SCHEMA_ERROR, `${formatPath([...fieldPath, 'host'])}: required field is missing`, fieldPath);
    return;
  }
  const host = destination.host;
  if (!index.hostExists(host, namespace)) {
    report(loaded, 'KIA1101', `DestinationWeight on route doesn't have a valid service (host not found): ${host}`, [...fieldPath, 'host']);
    return;
  }
  if (typeof destination.subset === 'string') {
    const subsets = index.subsetsFor(host, namespace);
    if (!subsets?.has(destination.subset)) {
      report(loaded, 'KIA1107',
        `Subset not found: ${destination.subset} of host ${host} is defined in no DestinationRule${subsets ? ` (known: ${[...subsets].join(', ') || 'none'})` : ''}: Envoy has no such cluster and answers 503 (flag NC)`,
        [...fieldPath, 'subset']);
    }
  }
  const portNumber = isPlainObject(destination.port) ? destination.port.number : undefined;
  const service = index.serviceFor(host, namespace);
  if (service && typeof portNumber === 'number') {
    const servicePorts = asArray(service.object.spec?.ports).map((p) => (isPlainObject(p) ? p.port : undefined));
    if (!servicePorts.includes(portNumber)) {
      report(loaded, 'CNS0105', `destination port ${portNumber} is not a port of Service ${service.object.metadata.name} (ports: ${servicePorts.join(', ')})`,
        [...fieldPath, 'port', 'number']);
    }
  }
}

function checkFault(
  loaded: LoadedObject<VirtualService>,
  route: HTTPRoute,
  label: string,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  const fault = route.fault;
  if (!fault || typeof fault !== 'object' || (fault.abort === undefined && fault.delay === undefined)) {
    report(loaded, SCHEMA_ERROR, `${label}: HTTP fault injection must have an abort and/or a delay`, at('fault'));
    return;
  }
  for (const kind of ['abort', 'delay'] as const) {
    const value = fault[kind]?.percentage?.value;
    if (typeof value === 'number' && (value < 0 || value > 100)) {
      report(loaded, SCHEMA_ERROR, `${label}: fault ${kind} percentage must be in range [0, 100], got ${value}`, at('fault', kind, 'percentage', 'value'));
    }
  }
  if (fault.abort) {
    const status = fault.abort.httpStatus;
    if (typeof status !== 'number' || status < 200 || status > 599) {
      report(loaded, SCHEMA_ERROR, `${label}: fault abort httpStatus must be in range [200, 599], got ${status ?? 'none'}`, at('fault', 'abort'));
    }
  }
  if (fault.delay) {
    if (fault.delay.fixedDelay === undefined) {
      report(loaded, SCHEMA_ERROR, `${label}: fault delay must have a fixedDelay`, at('fault', 'delay'));
    } else {
      checkDuration(loaded, fault.delay.fixedDelay, at('fault', 'delay', 'fixedDelay'), report);
    }
  }
}

/** IST0131: a match block that an earlier, wider match already takes (only plain uri matches are compared). */
function checkIneffectiveMatches(loaded: LoadedObject<VirtualService>, routes: HTTPRoute[], report: Report): void {
  const earlier: Array<{ rule: number; match: HTTPMatchRequest }> = [];
  routes.forEach((route, r) => {
    asArray(route.match).forEach((match, m) => {
      if (!isPlainObject(match)) return;
      const shadow = earlier.find((e) => e.rule !== r && covers(e.match, match as HTTPMatchRequest));
      if (shadow) {
        report(loaded, 'IST0131',
          `VirtualService rule #${r} match #${m} is not used (duplicate/overlapping match in rule #${shadow.rule})`,
          ['spec', 'http', r, 'match', m]);
      }
    });
    for (const match of asArray(route.match)) if (isPlainObject(match)) earlier.push({ rule: r, match: match as HTTPMatchRequest });
  });
}

/** Whether every request `later` matches is already matched by `first`. */
function covers(first: HTTPMatchRequest, later: HTTPMatchRequest): boolean {
  if (JSON.stringify(first) === JSON.stringify(later)) return true;
  const onlyUri = (m: HTTPMatchRequest): boolean => Object.keys(m).every((k) => k === 'uri' || k === 'name');
  if (!onlyUri(first) || !onlyUri(later) || !first.uri || !later.uri) return false;
  const prefix = first.uri.prefix;
  if (prefix === undefined) return false;
  const laterValue = later.uri.exact ?? later.uri.prefix;
  return laterValue !== undefined && later.uri.regex === undefined && laterValue.startsWith(prefix);
}

/** KIA1106: two VirtualServices for the same host bound to the same gateway (or both to the mesh). */
function checkVirtualServiceOverlap(index: Index, report: Report): void {
  const byBinding = new Map<string, LoadedObject<VirtualService>[]>();
  for (const vs of index.virtualServices) {
    const namespace = namespaceOf(vs.object);
    const refs = asArray(vs.object.spec?.gateways).filter((g): g is string => typeof g === 'string');
    const bindings = refs.length > 0 ? refs.map((g) => index.resolveGateway(g, namespace)) : ['mesh'];
    for (const host of asArray(vs.object.spec?.hosts)) {
      if (typeof host !== 'string') continue;
      const hostKey = serviceKey(host, namespace) ?? host;
      for (const binding of new Set(bindings)) {
        const key = `${binding}|${hostKey}`;
        const list = byBinding.get(key) ?? [];
        if (!list.includes(vs)) list.push(vs);
        byBinding.set(key, list);
      }
    }
  }
  for (const [key, list] of byBinding) {
    if (list.length < 2) continue;
    const [binding, host] = key.split('|');
    for (const vs of list) {
      const others = list.filter((o) => o !== vs).map((o) => objectRef(o.object)).join(', ');
      report(vs, 'KIA1106', `More than one Virtual Service for same host: ${host} on ${binding} (also ${others})`, ['spec', 'hosts'], 'warning');
    }
  }
}

// ---------------------------------------------------------------- DestinationRule

function checkDestinationRule(loaded: LoadedObject<DestinationRule>, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const namespace = namespaceOf(loaded.object);
  const host = spec?.host;
  if (typeof host !== 'string' || host === '') return; // the schema check reports it
  if (!index.hostExists(host, namespace)) {
    report(loaded, 'KIA0202', `This host has no matching entry in the service registry (service, workload or service entries): ${host}`, ['spec', 'host']);
  }
  const service = index.serviceFor(host, namespace);
  const serviceWorkloads = service
    ? index.workloadsSelectedBy(labelsOf(service.object.spec?.selector), namespaceOf(service.object))
    : undefined;

  checkTrafficPolicy(loaded, spec?.trafficPolicy, ['spec', 'trafficPolicy'], report);
  const seen = new Set<string>();
  asArray(spec?.subsets).forEach((subset, s) => {
    if (!isPlainObject(subset) || typeof subset.name !== 'string') return;
    if (seen.has(subset.name)) {
      report(loaded, SCHEMA_ERROR, `duplicate subset names: ${subset.name}`, ['spec', 'subsets', s, 'name']);
    }
    seen.add(subset.name);
    const labels = labelsOf(subset.labels);
    if (Object.keys(labels).length === 0) {
      report(loaded, 'KIA0209', `This subset has not labels: subset ${subset.name} selects every pod of ${host}`, ['spec', 'subsets', s], 'warning');
    } else if (serviceWorkloads && !serviceWorkloads.some((w) => containsLabels(w.podLabels, labels))) {
      report(loaded, 'IST0173',
        `The Subset ${subset.name} defined in the DestinationRule ${loaded.object.metadata.name} does not select any pods (labels ${formatLabels(labels)}), which may lead to 503 UH (NoHealthyUpstream)`,
        ['spec', 'subsets', s, 'labels']);
    }
    checkTrafficPolicy(loaded, subset.trafficPolicy, ['spec', 'subsets', s, 'trafficPolicy'], report);
  });
}

function checkTrafficPolicy(loaded: LoadedObject, policy: unknown, at: Array<string | number>, report: Report): void {
  if (!isPlainObject(policy)) return;
  const outlier = isPlainObject(policy.outlierDetection) ? policy.outlierDetection : undefined;
  if (outlier) {
    checkDuration(loaded, outlier.interval, [...at, 'outlierDetection', 'interval'], report);
    checkDuration(loaded, outlier.baseEjectionTime, [...at, 'outlierDetection', 'baseEjectionTime'], report);
    for (const field of ['maxEjectionPercent', 'minHealthPercent']) {
      const value = outlier[field];
      if (typeof value === 'number' && (value < 0 || value > 100)) {
        report(loaded, SCHEMA_ERROR, `outlierDetection.${field} must be in range [0, 100], got ${value}`, [...at, 'outlierDetection', field]);
      }
    }
  }
  const pool = isPlainObject(policy.connectionPool) ? policy.connectionPool : undefined;
  if (pool && isPlainObject(pool.tcp)) checkDuration(loaded, pool.tcp.connectTimeout, [...at, 'connectionPool', 'tcp', 'connectTimeout'], report);
  if (pool && isPlainObject(pool.http)) checkDuration(loaded, pool.http.idleTimeout, [...at, 'connectionPool', 'http', 'idleTimeout'], report);
}

/** KIA0201: two DestinationRules defining the same subset of one host (which one wins is undefined). */
function checkDestinationRuleOverlap(index: Index, report: Report): void {
  const owners = new Map<string, LoadedObject<DestinationRule>[]>();
  for (const dr of index.destinationRules) {
    const host = dr.object.spec?.host;
    if (typeof host !== 'string') continue;
    const hostKey = serviceKey(host, namespaceOf(dr.object)) ?? host;
    const subsetNames = asArray(dr.object.spec?.subsets)
      .map((s) => (isPlainObject(s) && typeof s.name === 'string' ? s.name : undefined))
      .filter((s): s is string => s !== undefined);
    for (const subset of subsetNames.length > 0 ? new Set(subsetNames) : ['']) {
      const key = `${hostKey}|${subset}`;
      const list = owners.get(key) ?? [];
      list.push(dr);
      owners.set(key, list);
    }
  }
  for (const [key, list] of owners) {
    if (list.length < 2) continue;
    const [host, subset] = key.split('|');
    for (const dr of list) {
      const others = list.filter((o) => o !== dr).map((o) => objectRef(o.object)).join(', ');
      report(dr, 'KIA0201', `More than one DestinationRules for the same host subset combination: ${host}${subset ? ` subset ${subset}` : ''} (also ${others})`, ['spec', 'host'], 'warning');
    }
  }
}

// ---------------------------------------------------------------- security

function checkAuthorizationPolicy(loaded: LoadedObject, index: Index, report: Report): void {
  const spec = isPlainObject(loaded.object.spec) ? loaded.object.spec : {};
  const namespace = namespaceOf(loaded.object);
  const selector = isPlainObject(spec.selector) ? labelsOf(spec.selector.matchLabels) : {};
  if (Object.keys(selector).length > 0 && index.workloadsSelectedBy(selector, namespace).length === 0) {
    report(loaded, 'CNS0106', `selector ${formatLabels(selector)} matches no workload: the policy has no effect`, ['spec', 'selector']);
  }
  asArray(spec.rules).forEach((rule, r) => {
    if (!isPlainObject(rule)) return;
    asArray(rule.from).forEach((from, f) => {
      const source = isPlainObject(from) && isPlainObject(from.source) ? from.source : undefined;
      asArray(source?.principals).forEach((principal, p) => {
        const match = typeof principal === 'string' ? /^[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal) : null;
        // Only namespaces these manifests define can be checked (istio-system belongs to the Istio install).
        if (match && index.namespaces.has(match[1]!) && !index.serviceAccounts.has(`${match[1]}/${match[2]}`)) {
          report(loaded, 'CNS0107', `principal ${principal} names ServiceAccount ${match[2]}, which no manifest defines`,
            ['spec', 'rules', r, 'from', f, 'source', 'principals', p]);
        }
      });
    });
  });
}

// ---------------------------------------------------------------- helpers

/**
 * A duration as Istio's API server takes it: Go's time.ParseDuration grammar (jsonpb), then agent.ValidateDuration
 * (at least 1ms, whole milliseconds). A value that is not a string at all is the schema check's finding.
 */
function checkDuration(loaded: LoadedObject, value: unknown, at: Array<string | number>, report: Report): void {
  if (typeof value !== 'string') return;
  const ms = parseDuration(value);
  if (ms === undefined) {
    report(loaded, SCHEMA_ERROR, `${formatPath(at)}: invalid duration ${JSON.stringify(value)} (Go duration syntax, e.g. 1s, 250ms, 1.5s, 1m30s)`, at);
  } else if (ms < 1) {
    report(loaded, SCHEMA_ERROR, `${formatPath(at)}: duration must be greater than 1ms (got ${value})`, at);
  } else if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) {
    report(loaded, SCHEMA_ERROR, `${formatPath(at)}: only durations to ms precision are supported (got ${value})`, at);
  }
}

/** validateStringMatch: a prefix must not be empty (except for uri), a regex must compile as RE2. */
function checkStringMatch(loaded: LoadedObject, match: unknown, where: string, at: Array<string | number>, report: Report, allowEmptyPrefix = false): void {
  if (!isPlainObject(match)) return;
  if (match.prefix === '' && !allowEmptyPrefix) report(loaded, SCHEMA_ERROR, `"${where}": prefix string match should not be empty`, [...at, 'prefix']);
  if (typeof match.regex === 'string') {
    const error = regexError(match.regex);
    if (error) report(loaded, SCHEMA_ERROR, `"${where}": ${error}`, [...at, 'regex']);
  }
}

/** validateHTTPRouteMatchRequest: every StringMatch of every match block. */
function checkMatchRegexes(
  loaded: LoadedObject<VirtualService>,
  route: HTTPRoute,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  asArray(route.match).forEach((match, m) => {
    if (!isPlainObject(match)) return;
    checkStringMatch(loaded, match.uri, 'uri', at('match', m, 'uri'), report, true);
    for (const field of ['scheme', 'method', 'authority'] as const) checkStringMatch(loaded, match[field], field, at('match', m, field), report);
    for (const field of ['headers', 'queryParams', 'withoutHeaders'] as const) {
      const entries = isPlainObject(match[field]) ? Object.entries(match[field] as Record<string, unknown>) : [];
      for (const [name, value] of entries) {
        // In withoutHeaders `regex: "*"` is not RE2 but Istio's "header present" (translated to present_match).
        if (field === 'withoutHeaders' && isPlainObject(value) && value.regex === '*') continue;
        checkStringMatch(loaded, value, field, at('match', m, field, name), report);
      }
    }
  });
}

/** validateHTTPRewrite / validateURIRegexRewrite. */
function checkRewrite(
  loaded: LoadedObject<VirtualService>,
  rewrite: unknown,
  label: string,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  if (!isPlainObject(rewrite)) return;
  const regexRewrite = isPlainObject(rewrite.uriRegexRewrite) ? rewrite.uriRegexRewrite : undefined;
  if (rewrite.uri && regexRewrite) report(loaded, SCHEMA_ERROR, `${label}: rewrite may only contain one of URI or UriRegexRewrite`, at('rewrite'));
  if (!rewrite.uri && !regexRewrite && !rewrite.authority) {
    report(loaded, SCHEMA_ERROR, `${label}: rewrite must specify at least one of URI, UriRegexRewrite, or authority`, at('rewrite'));
  }
  if (regexRewrite) {
    if (!regexRewrite.match || !regexRewrite.rewrite) {
      report(loaded, SCHEMA_ERROR, `${label}: UriRegexRewrite requires both Rewrite and Match fields to be specified`, at('rewrite', 'uriRegexRewrite'));
    } else if (typeof regexRewrite.match === 'string') {
      const error = regexError(regexRewrite.match);
      if (error) report(loaded, SCHEMA_ERROR, `${label}: "HTTPRewrite.UriRegexRewrite.Match": ${error}`, at('rewrite', 'uriRegexRewrite', 'match'));
    }
  }
}

/** `name.namespace` of the Service a host names, or undefined for a non-cluster host (FQDN outside the mesh, `*`). */
function serviceKey(host: string, namespace: string): string | undefined {
  const service = parseServiceHost(host, namespace);
  return service && `${service.name}.${service.namespace}`;
}

function labelsOf(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) return {};
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) labels[key] = String(label);
  return labels;
}

function containsLabels(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}|${f.file}|${f.line}|${f.object}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.code.localeCompare(b.code),
  );
}
