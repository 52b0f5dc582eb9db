// What every analyzer looks things up in, built once per analysis (istioctl hands its analyzers an analysis.Context,
// pkg/config/analysis/context.go; Kiali its checkers the object lists), and the one way they report a finding.

import type { Container, Deployment, DestinationRule, Finding, Gateway, LoadedObject, Service, VirtualService } from '../../model';
import { istioKindOf, parseServiceHost, resolveGatewayRef } from '../../istio';
import { isPlainObject, lineOf } from '../load';
import { namespaceOf, objectRef } from '../merge';
import type { FindingCode } from './codes';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

export interface Workload {
  loaded: LoadedObject<Deployment>;
  namespace: string;
  podLabels: Record<string, string>;
  containers: Container[];
}

/** Everything the checks look things up in, built once per analysis. */
export class Index {
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
      } else if (
        object.kind === 'Gateway' &&
        object.apiVersion.startsWith('gateway.networking.k8s.io/') &&
        isPlainObject(object.spec) &&
        object.spec.gatewayClassName === 'istio'
      ) {
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

export type Report = (
  loaded: LoadedObject,
  code: FindingCode,
  message: string,
  fieldPath?: ReadonlyArray<string | number>,
  severity?: Finding['severity'],
) => void;

export function reporter(findings: Finding[]): Report {
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

/** `name.namespace` of the Service a host names, or undefined for a non-cluster host (FQDN outside the mesh, `*`). */
export function serviceKey(host: string, namespace: string): string | undefined {
  const service = parseServiceHost(host, namespace);
  return service && `${service.name}.${service.namespace}`;
}

export function labelsOf(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) return {};
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) labels[key] = String(label);
  return labels;
}

export function containsLabels(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
