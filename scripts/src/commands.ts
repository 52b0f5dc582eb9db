/**
 * The commands, each written once against KubeClient so that Minikube and the local mesh run the same code.
 * They print through Output and throw UserError for anything the user must fix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { adminLinks, formatLinks, forPeople, gatewayLinks } from '@cns/mesh/links';
import { GATEWAY_API_GROUP, type HTTPRoute } from '@cns/mesh/gateway-api';
import type { VirtualService } from '@cns/mesh/model';
import { UserError, firstLine } from './errors';
import { meshEndpoints, meshGatewayUrl, meshWorkloadStates } from './mesh-admin';
import type { Output } from './io';
import { DEFAULT_NAMESPACE, describeTarget, KubeClient, type IstioObject } from './kube';
import {
  analyzeOverBase,
  folderFiles,
  formatWarning,
  inApplyOrder,
  inDeleteOrder,
  label,
  loadFiles,
  projectObjects,
  REPO_ROOT,
  requireIstioObjects,
  sourceOf,
  usesGatewayApi,
  type FileObject,
} from './manifests';
import { formatSummary, runLoad, type LoadOptions } from './load';
import { rolloutDone, rolloutState } from './rollout';
import { activeSplit, buildSplitPatch, formatSplit, INGRESS_VIRTUAL_SERVICE, VIRTUAL_SERVICE_API_VERSION, type Split } from './traffic';
import { activeRouteSplit, buildRouteSplitPatch, HTTPROUTE_API_VERSION, INGRESS_HTTPROUTE, statusCaughtUp } from './traffic-httproute';
import { appPaths, gatewayAddress, type GatewayAddress, INGRESS_GATEWAY_SERVICE, isMinikube, ISTIO_NAMESPACE, urlLines, type AppPaths } from './urls';

const NETWORKING_GROUP = 'networking.istio.io';

// ---------------------------------------------------------------- shared steps

/**
 * Fails with the message the issue asks for when the cluster does not know the Istio types, instead of the
 * API's "no matches for kind Gateway"; returns the Istio groups the target serves.
 */
export async function requireIstio(client: KubeClient): Promise<Map<string, string[]>> {
  const groups = await client.apiGroups();
  const networking = groups.get(NETWORKING_GROUP);
  if (!networking) {
    throw new UserError('Istio is not installed: the Gateway resource type is unknown; install Istio first');
  }
  if (!networking.includes('v1')) {
    throw new UserError(`Istio is too old: ${NETWORKING_GROUP}/v1 is not served (only ${networking.join(', ')}); install Istio 1.22 or newer`);
  }
  return groups;
}

/** Objects whose API group the target serves; the others are skipped with a note (e.g. a partial Istio API). */
function servedObjects(objects: FileObject[], groups: Map<string, string[]>, io: Output): FileObject[] {
  const groupOf = (o: FileObject): string => o.object.apiVersion.split('/')[0]!;
  const served = objects.filter((o) => groups.has(groupOf(o)));
  const skipped = objects.filter((o) => !served.includes(o));
  if (skipped.length > 0) {
    io.err(`skipped (API group not served by the target): ${skipped.map((o) => label(o.object)).join(', ')}`);
  }
  return served;
}

async function readIngress(client: KubeClient): Promise<VirtualService | undefined> {
  return (await client.getIstio(VIRTUAL_SERVICE_API_VERSION, 'VirtualService', INGRESS_VIRTUAL_SERVICE)) as VirtualService | undefined;
}

export interface GatewayOptions {
  /** Overrides the derived gateway URL (e.g. `http://127.0.0.1:8080`). */
  gatewayUrl?: string;
  /** GATEWAY_URL / GATEWAY_PORT come from here (the CLI passes its environment). */
  env?: NodeJS.ProcessEnv;
}

/** The ingress gateway base URL, or a hint why there is none. */
export async function gatewayBase(client: KubeClient, options: GatewayOptions): Promise<GatewayAddress & { minikube: boolean }> {
  const env = options.env ?? process.env;
  const explicit = options.gatewayUrl ?? env.GATEWAY_URL;
  if (explicit) return { url: explicit.replace(/\/+$/, ''), note: 'given with --gateway-url / GATEWAY_URL', minikube: false };
  if (client.target.kind === 'mesh') {
    const announced = await meshGatewayUrl(client.target.server);
    if (announced) return { url: announced.replace(/\/+$/, ''), note: 'local mesh ingress gateway', minikube: false };
    const port = env.GATEWAY_PORT ?? '8080';
    return { url: `http://127.0.0.1:${port}`, note: 'local mesh ingress gateway (GATEWAY_PORT, default 8080)', minikube: false };
  }
  // Gateway API mode: the gateway Istio deploys for Gateway `web-gateway` is the Service `web-gateway-istio` here.
  const route = await readIngressRoute(client, await client.apiGroups(), false);
  const where = route
    ? { namespace: DEFAULT_NAMESPACE, name: `${route.spec?.parentRefs?.[0]?.name ?? 'web-gateway'}-istio` }
    : { namespace: ISTIO_NAMESPACE, name: INGRESS_GATEWAY_SERVICE };
  const service = await client.readService(where.name, where.namespace);
  if (!service) {
    return {
      note: route
        ? `Service ${where.namespace}/${where.name} not found: is the Gateway programmed? (kubectl get gateway)`
        : `Service ${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE} not found: install Istio with the demo profile`,
      minikube: client.target.contextName === 'minikube',
    };
  }
  const nodes = await client.listNodes().catch(() => []);
  const minikube = isMinikube(client.target.contextName, nodes);
  return { ...gatewayAddress(service, nodes, where), minikube };
}

async function printUrls(client: KubeClient, options: GatewayOptions, io: Output): Promise<boolean> {
  const vs = await readIngress(client);
  const paths: AppPaths = appPaths(vs);
  const base = await gatewayBase(client, options);
  if (!base.url) {
    io.out(`No gateway URL: ${base.note}`);
    return false;
  }
  if (client.target.kind === 'mesh') {
    // The same lines as the banner of `npm start`, with localhost as it prints them.
    const admin = forPeople(client.target.server);
    const links = [...gatewayLinks(forPeople(base.url), paths), ...adminLinks(admin), { label: 'Mesh admin', url: `${admin}/`, note: 'every admin route' }];
    for (const line of formatLinks(links, '')) io.out(line);
  } else {
    for (const line of urlLines(base.url, paths)) io.out(line);
    io.out(`Gateway:      ${base.note}`);
    io.out('Kiali:        istioctl dashboard kiali   (or: kubectl -n istio-system port-forward svc/kiali 20001:20001)');
    if (base.minikube && base.via === 'nodePort') {
      io.out(
        'Minikube:     if the node IP is not reachable from this machine (docker driver on macOS/Windows), run ' +
          '`minikube tunnel` in another terminal and run `npm run urls -- --cluster` again',
      );
    }
  }
  if (!vs) io.out(`(VirtualService ${INGRESS_VIRTUAL_SERVICE} not found: run \`npm run deploy\` first)`);
  return true;
}

// ---------------------------------------------------------------- check

export async function checkCommand(client: KubeClient, io: Output): Promise<number> {
  const target = client.target;
  // The first call tells whether the target is reachable at all: if not, one line and exit 1 (thrown).
  const version = await client.version();
  let failures = 0;
  const ok = (text: string): void => io.out(`✓ ${text}`);
  const fail = (text: string): void => {
    failures += 1;
    io.out(`✗ ${text}`);
  };
  ok(`${describeTarget(target)} answers (Kubernetes API ${version})`);

  let istio = false;
  try {
    await requireIstio(client);
    istio = true;
    ok(`Istio API ${NETWORKING_GROUP}/v1 is served`);
  } catch (err) {
    fail((err as Error).message);
  }

  if (target.kind === 'mesh') {
    if (istio) {
      const counts = await Promise.all(
        ['Gateway', 'VirtualService', 'DestinationRule'].map(async (kind) => {
          const n = (await client.listIstio(VIRTUAL_SERVICE_API_VERSION, kind)).length;
          return `${n} ${kind}${n === 1 ? '' : 's'}`;
        }),
      );
      ok(`Istio objects in namespace default: ${counts.join(', ')}`);
    }
    const names = (await client.listDeployments()).map((d) => d.metadata?.name ?? '?');
    const states = await workloadStates(client, names);
    const pending = [...states.values()].filter((st) => !st.ready);
    if (pending.length === 0) ok(`workloads ready: ${names.join(', ')}`);
    else fail(`workloads not ready: ${pending.map((st) => st.state).join('; ')}`);
    io.out('- Minikube: not used (local mesh)');
    return failures === 0 ? 0 : 1;
  }

  const namespace = await client.readNamespace('default');
  const labels = namespace?.metadata?.labels ?? {};
  if (labels['istio-injection'] === 'enabled' || labels['istio.io/rev']) {
    ok('namespace default is labelled for sidecar injection');
  } else {
    fail('namespace default is not labelled for sidecar injection: kubectl label namespace default istio-injection=enabled');
  }

  const gateway = await client.readDeployment(INGRESS_GATEWAY_SERVICE, ISTIO_NAMESPACE);
  if (!gateway) {
    fail(`the Istio ingress gateway is not installed (no Deployment ${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE}): install Istio with the demo profile`);
  } else if (rolloutDone(gateway)) {
    ok(`the Istio ingress gateway is running (${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE})`);
  } else {
    fail(`the Istio ingress gateway is not ready: ${rolloutState(gateway)}`);
  }

  const nodes = await client.listNodes().catch(() => []);
  io.out(`- Minikube: ${isMinikube(target.contextName, nodes) ? 'detected' : 'not detected'}`);
  return failures === 0 ? 0 : 1;
}

// ---------------------------------------------------------------- deploy / undeploy

export interface DeployOptions extends GatewayOptions {
  timeoutSec: number;
  /** Poll interval of the rollout wait. */
  intervalMs?: number;
}

interface WorkloadState {
  ready: boolean;
  /** e.g. `web-api-v2 1/2 updated, 0/2 available`, for the timeout message. */
  state: string;
}

/** Readiness of the named workloads: Deployment status on a cluster, replica readiness on the local mesh. */
async function workloadStates(client: KubeClient, names: string[]): Promise<Map<string, WorkloadState>> {
  if (client.target.kind === 'mesh') {
    const endpoints = await meshEndpoints(client.target.server).catch((err: unknown) => {
      throw new UserError(`reading the mesh's endpoints: ${firstLine(err)}`);
    });
    return meshWorkloadStates(endpoints, names);
  }
  const deployments = await Promise.all(names.map((name) => client.readDeployment(name)));
  return new Map(
    names.map((name, i) => {
      const d = deployments[i];
      return [name, d ? { ready: rolloutDone(d), state: rolloutState(d) } : { ready: false, state: `${name} not found` }];
    }),
  );
}

async function waitForRollouts(client: KubeClient, names: string[], options: DeployOptions, io: Output): Promise<void> {
  const deadline = Date.now() + options.timeoutSec * 1000;
  const bar = io.interactive
    ? new SingleBar({ format: 'rollout |{bar}| {value}/{total} deployments ready {names}', hideCursor: true }, Presets.shades_classic)
    : undefined;
  bar?.start(names.length, 0, { names: '' });
  const ready = new Set<string>();
  try {
    for (;;) {
      const states = await workloadStates(
        client,
        names.filter((n) => !ready.has(n)),
      );
      for (const [name, state] of states) {
        if (state.ready) {
          ready.add(name);
          if (!bar) io.err(`rolled out: ${name} (${ready.size}/${names.length})`);
        }
      }
      const waiting = names.filter((n) => !ready.has(n));
      bar?.update(ready.size, { names: waiting.length ? `(waiting: ${waiting.join(', ')})` : '' });
      if (waiting.length === 0) return;
      if (Date.now() >= deadline) {
        const detail = waiting.map((n) => states.get(n)?.state ?? n);
        throw new UserError(`timed out after ${options.timeoutSec} s waiting for: ${detail.join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2000)); // polling the API
    }
  } finally {
    bar?.stop();
  }
}

export async function deployCommand(client: KubeClient, options: DeployOptions, io: Output): Promise<number> {
  const { workloads, istio } = projectObjects(); // read everything first: a bad file changes nothing
  const groups = await requireIstio(client);
  if (client.target.kind === 'cluster') {
    for (const { object } of workloads) {
      await client.applyObject(object);
      io.out(`applied ${label(object)}`);
    }
  } else {
    io.out(`k8s/: ${workloads.length} objects not sent: the local mesh runs the workloads from k8s/ itself`);
  }
  for (const { object } of inApplyOrder(servedObjects(istio, groups, io))) {
    await client.applyIstio(object);
    io.out(`applied ${label(object)}`);
  }
  const deployments = workloads.filter((w) => w.object.kind === 'Deployment').map((w) => w.object.metadata.name);
  await waitForRollouts(client, deployments, options, io);
  io.out(`all ${deployments.length} deployments rolled out`);
  await printUrls(client, options, io);
  return 0;
}

/** Every Istio object of the optional folders (traffic/, faults/, resilience/), for undeploy. */
function optionalIstioObjects(root = REPO_ROOT): FileObject[] {
  const istioDir = path.join(root, 'istio');
  const folders = fs
    .readdirSync(istioDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'base')
    .map((e) => path.join(istioDir, e.name));
  const files = folders.flatMap((dir) => folderFiles(dir));
  return files.length ? loadFiles(files) : [];
}

export async function undeployCommand(client: KubeClient, io: Output): Promise<number> {
  const { workloads, istio } = projectObjects();
  const groups = await requireIstio(client);
  const seen = new Set<string>();
  const istioObjects = [...istio, ...optionalIstioObjects()].filter((o) => {
    const key = label(o.object);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const { object } of inDeleteOrder(servedObjects(istioObjects, groups, io))) {
    const deleted = await client.deleteIstio(object.apiVersion, object.kind, object.metadata.name);
    io.out(deleted ? `deleted ${label(object)}` : `not present: ${label(object)}`);
  }
  if (client.target.kind === 'cluster') {
    for (const { object } of [...workloads].reverse()) {
      const deleted = await client.deleteObject(object);
      io.out(deleted ? `deleted ${label(object)}` : `not present: ${label(object)}`);
    }
  } else {
    io.out('k8s/: the local mesh runs the workloads itself; stop it with Ctrl-C in its terminal');
  }
  return 0;
}

// ---------------------------------------------------------------- urls

export async function urlsCommand(client: KubeClient, options: GatewayOptions, io: Output): Promise<number> {
  return (await printUrls(client, options, io)) ? 0 : 1;
}

// ---------------------------------------------------------------- traffic

/** Gateway API mode: asked for (`--gateway-api`), or detected: an HTTPRoute `web-ingress` and no VirtualService of that name. */
async function readIngressRoute(client: KubeClient, groups: Map<string, string[]>, gatewayApi: boolean): Promise<HTTPRoute | undefined> {
  if (!groups.get(GATEWAY_API_GROUP)?.includes('v1')) {
    if (gatewayApi)
      throw new UserError(
        `the Gateway API is not installed on the ${describeTarget(client.target)}: ${GATEWAY_API_GROUP}/v1 is not served (gateway-api/README.md: install its CRDs)`,
      );
    return undefined;
  }
  const route = (await client.getIstio(HTTPROUTE_API_VERSION, 'HTTPRoute', INGRESS_HTTPROUTE)) as HTTPRoute | undefined;
  if (!route) {
    if (gatewayApi) throw new UserError(`HTTPRoute ${INGRESS_HTTPROUTE} not found on the ${describeTarget(client.target)}: apply gateway-api/ first`);
    return undefined;
  }
  return gatewayApi || !(await readIngress(client)) ? route : undefined;
}

/**
 * Patches the HTTPRoute's getmultiple weights and waits until its status reports the new generation (istiod, or
 * the local mesh, has taken the change), then prints the split read back.
 */
async function trafficOnRoute(client: KubeClient, route: HTTPRoute, split: Split, io: Output, waitMs: number): Promise<number> {
  await client.patchIstio(HTTPROUTE_API_VERSION, 'HTTPRoute', INGRESS_HTTPROUTE, buildRouteSplitPatch(route, split));
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = (await client.getIstio(HTTPROUTE_API_VERSION, 'HTTPRoute', INGRESS_HTTPROUTE)) as HTTPRoute | undefined;
    if (!now) throw new UserError(`HTTPRoute ${INGRESS_HTTPROUTE} disappeared after the patch`);
    const caughtUp = statusCaughtUp(now);
    if (caughtUp || Date.now() > deadline) {
      if (!caughtUp)
        io.err(
          `warning: HTTPRoute ${INGRESS_HTTPROUTE} status does not report generation ${String(now.metadata.generation)} yet: is the Istio gateway controller running?`,
        );
      io.out(`${formatSplit(activeRouteSplit(now))}  (HTTPRoute ${INGRESS_HTTPROUTE}, ${describeTarget(client.target)})`);
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // polling the API server, as kubectl wait does
  }
}

export async function trafficCommand(client: KubeClient, split: Split, io: Output, options: { gatewayApi?: boolean; waitMs?: number } = {}): Promise<number> {
  const groups = await requireIstio(client);
  const route = await readIngressRoute(client, groups, options.gatewayApi === true);
  if (route) return trafficOnRoute(client, route, split, io, options.waitMs ?? 60_000);
  const vs = await readIngress(client);
  if (!vs) {
    throw new UserError(`VirtualService ${INGRESS_VIRTUAL_SERVICE} not found on the ${describeTarget(client.target)}: run \`npm run deploy\` first`);
  }
  await client.patchIstio(VIRTUAL_SERVICE_API_VERSION, 'VirtualService', INGRESS_VIRTUAL_SERVICE, buildSplitPatch(vs, split));
  // Print what the target holds now, not what was asked for.
  const now = await readIngress(client);
  if (!now) throw new UserError(`VirtualService ${INGRESS_VIRTUAL_SERVICE} disappeared after the patch`);
  io.out(`${formatSplit(activeSplit(now))}  (VirtualService ${INGRESS_VIRTUAL_SERVICE}, ${describeTarget(client.target)})`);
  return 0;
}

// ---------------------------------------------------------------- apply / remove

export async function applyCommand(client: KubeClient, files: string[], io: Output): Promise<number> {
  const objects = loadFiles(files);
  requireIstioObjects(objects);
  const { workloads, istio } = projectObjects(undefined, usesGatewayApi(objects));
  // Printed like kubectl prints admission warnings; the objects are still applied, as a cluster accepts them.
  for (const warning of analyzeOverBase(objects, [...workloads, ...istio])) io.err(formatWarning(warning));
  const groups = await requireIstio(client);
  let applied = 0;
  for (const loaded of inApplyOrder(servedObjects(objects, groups, io))) {
    try {
      await client.applyIstio(loaded.object, loaded.source.file);
    } catch (err) {
      const done = applied > 0 ? ` (${applied} object(s) before it were applied)` : '';
      throw new UserError(`${sourceOf(loaded)}: ${(err as Error).message}${done}`);
    }
    applied += 1;
    io.out(`applied ${label(loaded.object)}  (${sourceOf(loaded)})`);
  }
  return 0;
}

/**
 * Removes the objects of the files. An object that istio/base also defines (e.g. `web-ingress` replaced by a
 * traffic or fault file) is put back to its base version instead of deleted, so removing a fault never removes
 * the app's routing.
 */
export async function removeCommand(client: KubeClient, files: string[], io: Output): Promise<number> {
  const objects = loadFiles(files);
  requireIstioObjects(objects);
  const gatewayApi = usesGatewayApi(objects);
  const base = new Map(projectObjects(undefined, gatewayApi).istio.map((o) => [label(o.object), o]));
  const groups = await requireIstio(client);
  for (const { object } of inDeleteOrder(servedObjects(objects, groups, io))) {
    const original: IstioObject | undefined = base.get(label(object))?.object;
    if (original) {
      await client.applyIstio(original);
      io.out(`restored ${label(object)} from ${gatewayApi ? 'gateway-api/base' : 'istio/base'}`);
    } else {
      const deleted = await client.deleteIstio(object.apiVersion, object.kind, object.metadata.name);
      io.out(deleted ? `deleted ${label(object)}` : `not present: ${label(object)}`);
    }
  }
  return 0;
}

// ---------------------------------------------------------------- load

export type LoadCommandOptions = Omit<LoadOptions, 'url' | 'onProgress'> & GatewayOptions & { url?: string };

export async function loadCommand(connect: () => Promise<KubeClient>, options: LoadCommandOptions, io: Output): Promise<number> {
  let url = options.url;
  if (!url) {
    const client = await connect();
    const base = await gatewayBase(client, options);
    if (!base.url) throw new UserError(`no gateway URL: ${base.note}`);
    url = `${base.url}${appPaths(await readIngress(client)).getMultiple}`;
  }
  io.err(
    `load: up to ${options.count} requests to ${url}` +
      `${options.rate ? ` at ${options.rate}/s` : ''}${options.durationSec ? ` for at most ${options.durationSec} s` : ''}`,
  );
  const bar = io.interactive ? new SingleBar({ format: 'load |{bar}| {value}/{total} requests', hideCursor: true }, Presets.shades_classic) : undefined;
  bar?.start(options.count, 0);
  let summary;
  try {
    summary = await runLoad({ ...options, url, onProgress: (done) => bar?.update(done) });
  } finally {
    bar?.stop();
  }
  for (const line of formatSummary(summary)) io.out(line);
  const succeeded = Object.entries(summary.outcomes).some(([code]) => /^2\d\d$/.test(code));
  if (!succeeded) {
    io.err('no request succeeded: is the app deployed (`npm run check`)?');
    return 1;
  }
  return 0;
}
