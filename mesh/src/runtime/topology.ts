/**
 * What the mesh runs, read from the Kubernetes manifests: one Workload per Deployment (labels from the pod
 * template, replicas = processes) with its local command, and the Services that select them.
 */
import type { Container, Deployment, LoadedObject, Service, Workload } from '../model';
import { commandFor, type WorkloadCommand, workloadCommands } from './workload-commands';

export interface WorkloadSpec {
  workload: Workload;
  command: WorkloadCommand;
  /** The first container's env as literal values (valueFrom is not supported locally and is skipped). */
  env: Record<string, string>;
  readinessPath: string;
  /** `terminationGracePeriodSeconds`: how long a stopping replica may drain before SIGKILL. */
  terminationGraceMs: number;
  /** Where the Deployment came from, for messages. */
  file: string;
}

export interface Topology {
  workloads: WorkloadSpec[];
  services: LoadedObject<Service>[];
  deployments: LoadedObject<Deployment>[];
}

type ProbedContainer = Container & { readinessProbe?: { httpGet?: { path?: string } } };

export function buildTopology(
  objects: readonly LoadedObject[],
  namespace = 'default',
  table: Readonly<Record<string, WorkloadCommand>> = workloadCommands,
): Topology {
  const deployments = objects.filter((o): o is LoadedObject<Deployment> => o.object.kind === 'Deployment');
  const services = objects.filter((o): o is LoadedObject<Service> => o.object.kind === 'Service');
  const workloads = deployments.map(({ object, source }) => {
    const name = object.metadata.name;
    const command = commandFor(name, source.file, table);
    const template = object.spec?.template;
    const labels = { ...(template?.metadata?.labels ?? {}) };
    const container = template?.spec?.containers?.[0] as ProbedContainer | undefined;
    const env: Record<string, string> = {};
    for (const variable of container?.env ?? []) {
      if (variable.value !== undefined) env[variable.name] = String(variable.value);
    }
    const workload: Workload = {
      name,
      namespace: object.metadata.namespace ?? namespace,
      labels,
      app: labels.app ?? labels['app.kubernetes.io/name'] ?? name,
      version: labels.version ?? labels['app.kubernetes.io/version'] ?? 'unknown',
      serviceAccount: template?.spec?.serviceAccountName ?? 'default',
      replicas: Math.max(0, object.spec?.replicas ?? 1),
    };
    return {
      workload,
      command,
      env,
      readinessPath: container?.readinessProbe?.httpGet?.path ?? command.defaultReadinessPath,
      terminationGraceMs: (template?.spec?.terminationGracePeriodSeconds ?? 30) * 1000,
      file: source.file,
    };
  });
  return { workloads, services, deployments };
}

/**
 * Start order by dependency: a workload whose env names another Service by URL (`http://articles:8080`) starts
 * after the workloads behind that Service are ready. Returns groups to start one after the other; workloads in
 * one group start in parallel. A dependency cycle falls back to starting the rest together.
 */
export function startOrder(specs: readonly WorkloadSpec[], services: readonly LoadedObject<Service>[]): WorkloadSpec[][] {
  const selects = (service: Service, workload: Workload): boolean => {
    const selector = service.spec?.selector;
    return !!selector && Object.entries(selector).every(([k, v]) => workload.labels[k] === v);
  };
  const dependsOn = new Map<WorkloadSpec, Set<WorkloadSpec>>();
  for (const spec of specs) {
    const urls = Object.values(spec.env).join(' ');
    const deps = new Set<WorkloadSpec>();
    for (const { object: service } of services) {
      if (!new RegExp(`\\bhttps?://${service.metadata.name.replace(/[.-]/g, '\\$&')}(?=[:/.]|$|\\s)`).test(urls)) continue;
      for (const other of specs) if (other !== spec && selects(service, other.workload)) deps.add(other);
    }
    dependsOn.set(spec, deps);
  }
  const groups: WorkloadSpec[][] = [];
  const started = new Set<WorkloadSpec>();
  while (started.size < specs.length) {
    const next = specs.filter((s) => !started.has(s) && [...dependsOn.get(s)!].every((d) => started.has(d)));
    const group = next.length > 0 ? next : specs.filter((s) => !started.has(s));
    group.forEach((s) => started.add(s));
    groups.push(group);
  }
  return groups;
}
