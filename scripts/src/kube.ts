/**
 * The one client layer every command uses, for both targets: a Kubernetes cluster (the current kube context or
 * `--context NAME`) and the local mesh, whose admin server answers the same REST paths for the Istio objects.
 * Both are driven through @kubernetes/client-node; only the KubeConfig differs.
 */
import type {
  ApiException,
  CoreV1Api,
  AppsV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObject,
  KubernetesObjectApi,
  V1Deployment,
  V1Node,
  V1Service,
  V1Namespace,
} from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { UserError, firstLine } from './errors';
import { GATEWAY_API_GROUP, GATEWAY_API_KINDS } from '@cns/mesh/gateway-api';
import { istioKindOf, ISTIO_KINDS as MESH_ISTIO_KINDS } from '@cns/mesh/istio';

type K8sModule = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

let k8sModule: Promise<K8sModule> | undefined;
/** The library is ESM-only; this CommonJS package loads it with a real dynamic import, once. */
export function loadK8s(): Promise<K8sModule> {
  k8sModule ??= import('@kubernetes/client-node');
  return k8sModule;
}

export const DEFAULT_NAMESPACE = 'default';
export const FIELD_MANAGER = 'cns-scripts';
export const DEFAULT_MESH_ADMIN_PORT = 15000;

/**
 * Istio kinds the scripts send, with the REST coordinates CustomObjectsApi needs (no discovery round-trip): the
 * mesh's table, which its Kubernetes API serves from too.
 */
export const ISTIO_KINDS: Readonly<Record<string, { group: string; plural: string }>> = Object.fromEntries(
  MESH_ISTIO_KINDS.map(({ kind, group, plural }) => [kind, { group, plural }]),
);

export interface TargetOptions {
  /** Use the current kube context instead of the local mesh. */
  cluster?: boolean;
  /** Use this kube context (implies cluster). */
  context?: string;
  /** Admin URL of a local mesh (default: http://127.0.0.1:$MESH_ADMIN_PORT when it answers). */
  meshUrl?: string;
}

export interface Target {
  kind: 'mesh' | 'cluster';
  /** API server URL (the mesh admin URL for the local mesh). */
  server: string;
  contextName: string;
  kc: KubeConfig;
}

export function describeTarget(target: Target): string {
  return target.kind === 'mesh' ? `local mesh at ${target.server}` : `kube context "${target.contextName}" (${target.server})`;
}

/** A KubeConfig made in code for the local mesh's admin server: plain HTTP, no credentials. */
export async function meshTarget(url: string): Promise<Target> {
  const { KubeConfig } = await loadK8s();
  const server = url.replace(/\/+$/, '');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local-mesh', server, skipTLSVerify: true }],
    users: [{ name: 'local-mesh' }],
    contexts: [{ name: 'local-mesh', cluster: 'local-mesh', user: 'local-mesh', namespace: DEFAULT_NAMESPACE }],
    currentContext: 'local-mesh',
  });
  return { kind: 'mesh', server, contextName: 'local-mesh', kc };
}

/** The current kube context from KUBECONFIG / ~/.kube/config, or the named one. */
export async function clusterTarget(context?: string): Promise<Target> {
  const { KubeConfig } = await loadK8s();
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT' ? (err as NodeJS.ErrnoException).path : undefined;
    if (missing) throw new UserError(`no kubeconfig at ${missing} (is minikube running? \`minikube start\` writes one)`);
    throw new UserError(`cannot read the kubeconfig: ${firstLine(err)}`);
  }
  if (context) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new UserError(`kube context "${context}" not found${known.length ? ` (known: ${known.join(', ')})` : ''}`);
    }
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  // With no kubeconfig at all, loadFromDefault invents a context `loaded-context` for http://localhost:8080.
  const invented = kc.getCurrentContext() === 'loaded-context' && cluster?.server === 'http://localhost:8080';
  if (!kc.getCurrentContext() || !cluster || invented) {
    const where = process.env.KUBECONFIG ? `KUBECONFIG=${process.env.KUBECONFIG}` : '~/.kube/config';
    throw new UserError(`no current kube context in ${where} (is minikube running? \`minikube start\` sets one)`);
  }
  return { kind: 'cluster', server: cluster.server, contextName: kc.getCurrentContext(), kc };
}

/** Local mesh by default when its admin port answers; the kube context with --cluster / --context. */
export async function resolveTarget(options: TargetOptions, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  if (options.cluster || options.context) {
    if (options.meshUrl) throw new UserError('--mesh-url and --cluster/--context are exclusive: pick one target');
    return clusterTarget(options.context);
  }
  const explicit = options.meshUrl ?? env.MESH_ADMIN_URL;
  if (explicit) {
    if (!/^https?:\/\/[^/]+/.test(explicit)) {
      throw new UserError(`the mesh admin URL must look like http://HOST:PORT, got "${explicit}"`);
    }
    return meshTarget(explicit);
  }
  const port = env.MESH_ADMIN_PORT ?? String(DEFAULT_MESH_ADMIN_PORT);
  const target = await meshTarget(`http://127.0.0.1:${port}`);
  if (await answers(target)) return target;
  throw new UserError(`the local mesh is not running at ${target.server} (start it with \`npm start\`); pass --cluster to use the current kube context`);
}

/** Whether the target's API answers /version within a second. */
async function answers(target: Target): Promise<boolean> {
  const { VersionApi } = await loadK8s();
  const api = target.kc.makeApiClient(VersionApi);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 1000);
  });
  try {
    return await Promise.race([
      api.getCode().then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- errors

function isApiException(err: unknown): err is ApiException<unknown> {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

/** The `message` of a Kubernetes Status body (the library hands it over as a string or an object). */
export function statusMessage(body: unknown): string | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  if (value && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
    return (value as { message: string }).message;
  }
  return undefined;
}

export function httpStatus(err: unknown): number | undefined {
  return isApiException(err) ? err.code : undefined;
}

/** Turns a library error into one line a user can act on. */
export function describeError(err: unknown, target: Target, action: string): UserError {
  if (err instanceof UserError) return err;
  if (isApiException(err)) {
    const message = statusMessage(err.body)?.split('\n')[0];
    if (err.code === 401 || err.code === 403) {
      return new UserError(`${action}: the API server refused the credentials of ${describeTarget(target)}: ${message ?? `HTTP ${err.code}`}`);
    }
    return new UserError(message ? `${action}: ${message} (HTTP ${err.code})` : `${action}: HTTP ${err.code}`);
  }
  const text = firstLine(err);
  // node-fetch: "request to URL failed, reason: connect ECONNREFUSED 127.0.0.1:1"
  const reason = /reason: (.*)$/.exec(text)?.[1] ?? text;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR|CERT|DEPTH|SELF_SIGNED|UNABLE_TO)/.test(code)) {
    const hint = target.kind === 'mesh' ? 'is the local mesh running? `npm start`' : 'is minikube running?';
    const what = target.kind === 'mesh' ? 'the local mesh' : 'the Kubernetes API';
    return new UserError(`cannot reach ${what} at ${target.server}: ${reason} (${hint})`);
  }
  return new UserError(`${action}: ${reason}`);
}

// ---------------------------------------------------------------- the client

export interface IstioObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  spec?: unknown;
}

export type JsonPatchOp = { op: 'replace' | 'add' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

export function istioCoordinates(apiVersion: string, kind: string): { group: string; version: string; plural: string } {
  const [group, version] = apiVersion.split('/');
  // Gateway API kinds (gateway-api/) travel the same custom-object paths; `Gateway` exists in both groups.
  const gatewayApi = group === GATEWAY_API_GROUP ? GATEWAY_API_KINDS.find((k) => k.kind === kind) : undefined;
  if (gatewayApi && version) return { group, version, plural: gatewayApi.plural };
  const known = ISTIO_KINDS[kind];
  if (!known || group !== known.group || !version) {
    throw new UserError(`${apiVersion} ${kind} is not an Istio kind the scripts handle`);
  }
  return { group, version, plural: known.plural };
}

export function isIstioObject(object: { apiVersion: string; kind: string }): boolean {
  return istioKindOf(object) !== undefined;
}

export class KubeClient {
  private constructor(
    readonly target: Target,
    private readonly k8s: K8sModule,
    private readonly custom: CustomObjectsApi,
    private readonly core: CoreV1Api,
    private readonly apps: AppsV1Api,
  ) {}

  static async create(target: Target): Promise<KubeClient> {
    const k8s = await loadK8s();
    return new KubeClient(
      target,
      k8s,
      target.kc.makeApiClient(k8s.CustomObjectsApi),
      target.kc.makeApiClient(k8s.CoreV1Api),
      target.kc.makeApiClient(k8s.AppsV1Api),
    );
  }

  private objects?: KubernetesObjectApi;

  /** Runs one API call, turning any failure into a one-line UserError. */
  private async call<T>(action: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw describeError(err, this.target, action);
    }
  }

  /** Same as call, but 404 resolves to undefined. */
  private async optional<T>(action: string, request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await request();
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw describeError(err, this.target, action);
    }
  }

  async version(): Promise<string> {
    const info = await this.call('reading the server version', () => this.target.kc.makeApiClient(this.k8s.VersionApi).getCode());
    return info.gitVersion;
  }

  /** API groups and their versions, e.g. `networking.istio.io` → [`v1`, `v1beta1`]. */
  async apiGroups(): Promise<Map<string, string[]>> {
    const list = await this.call('listing the API groups', () => this.target.kc.makeApiClient(this.k8s.ApisApi).getAPIVersions());
    return new Map(list.groups.map((g) => [g.name, g.versions.map((v) => v.version)]));
  }

  async getIstio<T extends IstioObject = IstioObject>(apiVersion: string, kind: string, name: string, namespace = DEFAULT_NAMESPACE): Promise<T | undefined> {
    const c = istioCoordinates(apiVersion, kind);
    return this.optional(`reading ${kind} ${name}`, () => this.custom.getNamespacedCustomObject({ ...c, namespace, name }));
  }

  async listIstio(apiVersion: string, kind: string, namespace = DEFAULT_NAMESPACE): Promise<IstioObject[]> {
    const c = istioCoordinates(apiVersion, kind);
    const list = await this.call(`listing ${c.plural}`, () => this.custom.listNamespacedCustomObject({ ...c, namespace }));
    return (list as { items?: IstioObject[] }).items ?? [];
  }

  /** A cluster-scoped Gateway API GatewayClass (Istio creates `istio`); undefined when absent. */
  async readGatewayClass(name: string): Promise<(KubernetesObject & { status?: unknown }) | undefined> {
    return this.optional(`reading GatewayClass ${name}`, () =>
      this.custom.getClusterCustomObject({ group: GATEWAY_API_GROUP, version: 'v1', plural: 'gatewayclasses', name }),
    );
  }

  /**
   * Server-side apply: creates or updates the object, this tool owning the fields it sends. `sourceFile` lets the
   * local mesh name the file in its findings (header x-mesh-source-file; a cluster ignores it).
   */
  async applyIstio(object: IstioObject, sourceFile?: string): Promise<IstioObject> {
    const c = istioCoordinates(object.apiVersion, object.kind);
    const namespace = object.metadata.namespace ?? DEFAULT_NAMESPACE;
    const source = sourceFile && this.target.kind === 'mesh' ? this.k8s.setHeaderOptions('x-mesh-source-file', sourceFile) : undefined;
    return this.call(`applying ${object.kind} ${object.metadata.name}`, () =>
      this.custom.patchNamespacedCustomObject(
        { ...c, namespace, name: object.metadata.name, body: object, fieldManager: FIELD_MANAGER, force: true },
        this.k8s.setHeaderOptions('Content-Type', this.k8s.PatchStrategy.ServerSideApply, source),
      ),
    );
  }

  /** JSON patch (RFC 6902): the library's default patch type for custom objects. */
  async patchIstio(apiVersion: string, kind: string, name: string, ops: JsonPatchOp[], namespace = DEFAULT_NAMESPACE): Promise<IstioObject> {
    const c = istioCoordinates(apiVersion, kind);
    return this.call(`patching ${kind} ${name}`, () =>
      this.custom.patchNamespacedCustomObject(
        { ...c, namespace, name, body: ops, fieldManager: FIELD_MANAGER },
        this.k8s.setHeaderOptions('Content-Type', this.k8s.PatchStrategy.JsonPatch),
      ),
    );
  }

  /** Deletes the object; false when it did not exist. */
  async deleteIstio(apiVersion: string, kind: string, name: string, namespace = DEFAULT_NAMESPACE): Promise<boolean> {
    const c = istioCoordinates(apiVersion, kind);
    const result = await this.optional(`deleting ${kind} ${name}`, () => this.custom.deleteNamespacedCustomObject({ ...c, namespace, name }));
    return result !== undefined;
  }

  private objectApi(): KubernetesObjectApi {
    this.objects ??= this.k8s.KubernetesObjectApi.makeApiClient(this.target.kc);
    return this.objects;
  }

  /** Server-side apply of any Kubernetes object (the cluster target: Deployments, Services, ...). */
  async applyObject(object: KubernetesObject & { kind: string; metadata: { name: string } }): Promise<void> {
    const spec = { ...object, metadata: { ...object.metadata, namespace: object.metadata.namespace ?? DEFAULT_NAMESPACE } };
    await this.call(`applying ${object.kind} ${object.metadata.name}`, () =>
      this.objectApi().patch(spec, undefined, undefined, FIELD_MANAGER, true, this.k8s.PatchStrategy.ServerSideApply),
    );
  }

  async deleteObject(object: KubernetesObject & { kind: string; metadata: { name: string } }): Promise<boolean> {
    const spec = { ...object, metadata: { ...object.metadata, namespace: object.metadata.namespace ?? DEFAULT_NAMESPACE } };
    const result = await this.optional(`deleting ${object.kind} ${object.metadata.name}`, () =>
      this.objectApi().delete(spec, undefined, undefined, undefined, undefined, 'Foreground'),
    );
    return result !== undefined;
  }

  async readDeployment(name: string, namespace = DEFAULT_NAMESPACE): Promise<V1Deployment | undefined> {
    return this.optional(`reading Deployment ${name}`, () => this.apps.readNamespacedDeployment({ name, namespace }));
  }

  async listDeployments(namespace = DEFAULT_NAMESPACE): Promise<V1Deployment[]> {
    const list = await this.call('listing Deployments', () => this.apps.listNamespacedDeployment({ namespace }));
    return list.items;
  }

  async readService(name: string, namespace = DEFAULT_NAMESPACE): Promise<V1Service | undefined> {
    return this.optional(`reading Service ${name}`, () => this.core.readNamespacedService({ name, namespace }));
  }

  async listServices(namespace = DEFAULT_NAMESPACE): Promise<V1Service[]> {
    const list = await this.call('listing Services', () => this.core.listNamespacedService({ namespace }));
    return list.items;
  }

  async listNodes(): Promise<V1Node[]> {
    const list = await this.call('listing nodes', () => this.core.listNode());
    return list.items;
  }

  async readNamespace(name: string): Promise<V1Namespace | undefined> {
    return this.optional(`reading namespace ${name}`, () => this.core.readNamespace({ name }));
  }
}
