/**
 * What the mesh runs, read from the Kubernetes manifests: one Workload per Deployment or StatefulSet (labels from
 * the pod template, replicas = processes) with its local command, and the Services that select them.
 */
import type { Container, Deployment, LoadedObject, Service, Workload } from '../model';
import { type ContainerProbe, type ProbeCheck, type ProbeSchedule, probeSchedule } from './probes';
import { commandFor, type WorkloadCommand, workloadCommands } from './workload-commands';

export interface WorkloadSpec {
  workload: Workload;
  command: WorkloadCommand;
  /** The first container's env as literal values (valueFrom is not supported locally and is skipped). */
  env: Record<string, string>;
  readinessPath: string;
  /** `postgres`: ready when a Postgres session with the workload's credentials answers (pg_isready); else HTTP. */
  readinessKind?: 'http' | 'postgres';
  /** The readiness probe's schedule (Kubernetes' defaults when the manifest sets none). */
  readinessSchedule?: ProbeSchedule;
  /** The liveness probe: failing it `failureThreshold` times in a row restarts the process. None without one. */
  liveness?: ProbeCheck;
  /** StatefulSet: a restart stops the replica before starting its successor (one data folder, one server). */
  stateful?: boolean;
  /** `terminationGracePeriodSeconds`: how long a stopping replica may drain before SIGKILL. */
  terminationGraceMs: number;
  /** The Deployment's `minReadySeconds`: a rolling restart waits until the new replica has been ready this long. */
  minReadyMs?: number;
  /** Where the Deployment came from, for messages. */
  file: string;
}

export interface Topology {
  workloads: WorkloadSpec[];
  services: LoadedObject<Service>[];
  deployments: LoadedObject<Deployment>[];
}

type ProbedContainer = Container & { readinessProbe?: ContainerProbe; livenessProbe?: ContainerProbe };

export function buildTopology(
  objects: readonly LoadedObject[],
  namespace = 'default',
  table: Readonly<Record<string, WorkloadCommand>> = workloadCommands,
): Topology {
  const deployments = objects.filter((o): o is LoadedObject<Deployment> => o.object.kind === 'Deployment');
  // A StatefulSet's pod template has the same shape as a Deployment's (what the mesh reads of it).
  const statefulSets = objects.filter((o): o is LoadedObject<Deployment> => o.object.kind === 'StatefulSet' && o.object.apiVersion === 'apps/v1');
  const services = objects.filter((o): o is LoadedObject<Service> => o.object.kind === 'Service');
  const secrets = secretValues(objects);
  const workloads = [...statefulSets, ...deployments].map(({ object, source }) => {
    const name = object.metadata.name;
    const command = commandFor(name, source.file, table);
    const template = object.spec?.template;
    const labels = { ...(template?.metadata?.labels ?? {}) };
    const container = template?.spec?.containers?.[0] as ProbedContainer | undefined;
    const env = containerEnv(container, object.metadata.namespace ?? namespace, secrets);
    const workload: Workload = {
      name,
      namespace: object.metadata.namespace ?? namespace,
      labels,
      app: labels.app ?? labels['app.kubernetes.io/name'] ?? name,
      version: labels.version ?? labels['app.kubernetes.io/version'] ?? 'unknown',
      serviceAccount: template?.spec?.serviceAccountName ?? 'default',
      replicas: Math.max(0, object.spec?.replicas ?? 1),
      containerPorts: namedContainerPorts(template?.spec?.containers),
    };
    return {
      workload,
      command,
      env,
      readinessPath: container?.readinessProbe?.httpGet?.path ?? command.defaultReadinessPath,
      readinessKind: command.readiness ?? 'http',
      readinessSchedule: probeSchedule(container?.readinessProbe),
      liveness: livenessCheck(container?.livenessProbe, command),
      stateful: object.kind === 'StatefulSet',
      terminationGraceMs: (template?.spec?.terminationGracePeriodSeconds ?? 30) * 1000,
      minReadyMs: Math.max(0, object.spec?.minReadySeconds ?? 0) * 1000,
      file: source.file,
    };
  });
  return { workloads, services, deployments };
}

/**
 * The liveness probe the mesh can run: an `httpGet`, or the Postgres workload's `exec` of pg_isready (a Postgres
 * session, like its readiness). Other `exec` commands and `tcpSocket` are not run locally.
 */
function livenessCheck(probe: ContainerProbe | undefined, command: WorkloadCommand): ProbeCheck | undefined {
  if (!probe) return undefined;
  const schedule = probeSchedule(probe, 'liveness');
  if (probe.httpGet) return { kind: 'http', path: probe.httpGet.path ?? '/', schedule };
  if (probe.exec && command.readiness === 'postgres') return { kind: 'postgres', path: '', schedule };
  return undefined;
}

/** Every container's named ports, as Kubernetes resolves a Service's named targetPort against the pod. */
function namedContainerPorts(containers: readonly Container[] | undefined): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const container of containers ?? []) {
    for (const port of container.ports ?? []) {
      if (port.name && typeof port.containerPort === 'number' && ports[port.name] === undefined) ports[port.name] = port.containerPort;
    }
  }
  return ports;
}

type EnvVar = { name: string; value?: unknown; valueFrom?: { secretKeyRef?: { name?: string; key?: string } } };

/** `namespace/name` → the Secret's keys and values (`stringData` as written, `data` base64-decoded). */
function secretValues(objects: readonly LoadedObject[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const { object } of objects) {
    if (object.kind !== 'Secret') continue;
    const record = object as unknown as { data?: Record<string, string>; stringData?: Record<string, string> };
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(record.data ?? {})) values[key] = Buffer.from(String(value), 'base64').toString('utf8');
    for (const [key, value] of Object.entries(record.stringData ?? {})) values[key] = String(value);
    out.set(`${object.metadata.namespace ?? 'default'}/${object.metadata.name}`, values);
  }
  return out;
}

/**
 * The first container's env as the kubelet gives it: literal values, `secretKeyRef`s resolved from the Secrets in
 * the manifests, and `$(VAR)` replaced by a variable defined above it (unknown references stay as written).
 * Other `valueFrom` sources are skipped.
 */
function containerEnv(container: Container | undefined, namespace: string, secrets: Map<string, Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of (container?.env ?? []) as EnvVar[]) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref?.name && ref.key) {
      const value = secrets.get(`${namespace}/${ref.name}`)?.[ref.key];
      if (value !== undefined) env[variable.name] = value;
    } else if (variable.value !== undefined) {
      env[variable.name] = String(variable.value).replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) =>
        name === undefined ? '$' : (env[name] ?? match),
      );
    }
  }
  return env;
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
      // `http://articles:8080`, `postgres://user:password@postgres:5432/db`
      // The host part of a URL, after an optional user:password@ (never the user name itself).
      const host = `\\b[a-z][a-z0-9+.-]*://([^@/\\s]*@)?${service.metadata.name.replace(/[.-]/g, '\\$&')}(?=[:/.]|$|\\s)(?![^/\\s@]*@)`;
      if (!new RegExp(host).test(urls)) continue;
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
