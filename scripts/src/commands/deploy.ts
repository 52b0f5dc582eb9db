/** `deploy` / `undeploy`: k8s/ and the routing base set, with the rollout wait. */
import fs from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { GATEWAY_API_GROUP } from '@cns/mesh/gateway-api';
import { UserError, firstLine } from '../errors';
import { meshEndpoints, meshWorkloadStates } from '../mesh-admin';
import type { Output } from '../io';
import { KubeClient } from '../kube';
import { folderFiles, inApplyOrder, inDeleteOrder, label, loadFiles, projectObjects, REPO_ROOT, type FileObject } from '../manifests';
import { rolloutDone, rolloutState } from '../rollout';
import {
  conditionMet,
  deployConflict,
  describeCondition,
  gatewayWorkload,
  programmedHint,
  type RoutingMode,
  type RoutingState,
  type WithConditions,
} from '../routing';
import { HTTPROUTE_API_VERSION } from '../traffic-httproute';
import { requireGatewayApi, requireIstio, routingState, servedObjects, type GatewayOptions } from './shared';
import { printUrls } from './urls';

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
export async function workloadStates(client: KubeClient, names: string[]): Promise<Map<string, WorkloadState>> {
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

async function waitForRollouts(client: KubeClient, names: string[], options: DeployOptions, deadline: number, io: Output): Promise<void> {
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

/**
 * `kubectl wait --for=condition=Programmed gateway/NAME` (routing.ts, conditionMet): Istio has programmed the
 * gateway for the Gateway's current generation.
 */
async function waitForProgrammed(client: KubeClient, name: string, options: DeployOptions, deadline: number, io: Output): Promise<void> {
  let hinted = false;
  for (;;) {
    const gateway = (await client.getIstio(HTTPROUTE_API_VERSION, 'Gateway', name)) as WithConditions | undefined;
    if (gateway && conditionMet(gateway, 'Programmed')) {
      io.out(`Gateway ${name} is Programmed`);
      return;
    }
    const hint = gateway ? programmedHint(gateway, name) : undefined;
    if (hint && !hinted) {
      hinted = true;
      io.err(`waiting for Gateway ${name} to be Programmed: ${hint}`);
    }
    if (Date.now() >= deadline) {
      const state = gateway ? describeCondition(gateway, 'Programmed') : 'not found';
      throw new UserError(
        `timed out after ${options.timeoutSec} s waiting for Gateway ${name} to be Programmed: ${state}${hint ? `; ${hint}` : ''} (kubectl describe gateway ${name})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2000)); // polling the API, as kubectl wait watches it
  }
}

/**
 * The Gateway API mode's per-version Services (gateway-api/base) the local mesh lacks: it has them only when
 * started with --gateway-api (its Services come from its manifests, read-only).
 */
export async function missingMeshServices(client: KubeClient, workloads = projectObjects(undefined, true).workloads): Promise<string[]> {
  if (client.target.kind !== 'mesh') return [];
  const services = workloads.filter((w) => w.object.kind === 'Service').map((w) => w.object.metadata.name);
  const present = await Promise.all(services.map(async (name) => (await client.readService(name)) !== undefined));
  return services.filter((_, i) => !present[i]);
}

export function meshServicesMessage(missing: string[]): string {
  return `the local mesh has no Service ${missing.join(', ')} (gateway-api/base): it was started without --gateway-api; restart it with \`npm start -- --gateway-api\``;
}

/**
 * Fails before anything is sent when deploying would route `web-ingress` both ways, or when the target lacks what
 * the mode needs (the Gateway API CRDs; on the local mesh, the per-version Services it only has with --gateway-api).
 */
async function requireDeployable(client: KubeClient, routing: RoutingState, workloads: FileObject[]): Promise<void> {
  const conflict = deployConflict(routing, client.target);
  if (conflict) throw new UserError(conflict);
  if (routing.mode !== 'gateway-api') return;
  requireGatewayApi(routing, client.target);
  const missing = await missingMeshServices(client, workloads);
  if (missing.length > 0) throw new UserError(meshServicesMessage(missing));
}

export async function deployCommand(client: KubeClient, options: DeployOptions, io: Output): Promise<number> {
  const groups = await requireIstio(client);
  const routing = await routingState(client, options.gatewayApi === true, groups);
  const gatewayApi = routing.mode === 'gateway-api';
  const { workloads, istio } = projectObjects(undefined, gatewayApi); // read everything before the first change: a bad file changes nothing
  await requireDeployable(client, routing, gatewayApi ? workloads : []);
  io.out(`routing: ${gatewayApi ? 'Kubernetes Gateway API, gateway-api/base' : 'Istio API, istio/base'} (${routing.reason})`);
  if (client.target.kind === 'cluster') {
    for (const { object } of workloads) {
      await client.applyObject(object);
      io.out(`applied ${label(object)}`);
    }
  } else {
    const from = gatewayApi ? 'k8s/ and the Services of gateway-api/base' : 'k8s/';
    io.out(`${from}: ${workloads.length} objects not sent: the local mesh runs the workloads from ${from} itself`);
  }
  for (const { object } of inApplyOrder(servedObjects(istio, groups, io))) {
    await client.applyIstio(object);
    io.out(`applied ${label(object)}`);
  }
  const deadline = Date.now() + options.timeoutSec * 1000;
  const deployments = workloads.filter((w) => w.object.kind === 'Deployment').map((w) => w.object.metadata.name);
  const gateway = istio.find((o) => o.object.kind === 'Gateway' && o.object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`))?.object.metadata.name;
  // On a cluster Istio deploys the gateway of a Gateway as a Deployment of its own; the local mesh runs it itself.
  if (gateway && client.target.kind === 'cluster') deployments.push(gatewayWorkload(gateway));
  await waitForRollouts(client, deployments, options, deadline, io);
  io.out(`all ${deployments.length} deployments rolled out`);
  if (gateway) await waitForProgrammed(client, gateway, options, deadline, io);
  await printUrls(client, { ...options, gatewayApi }, io);
  return 0;
}

/** Every object of a folder's optional sub-folders (not base/: traffic/, faults/, resilience/, ...), for undeploy. */
function optionalObjects(dir: string): FileObject[] {
  const folders = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'base')
    .map((e) => path.join(dir, e.name));
  const files = folders.flatMap((folder) => folderFiles(folder));
  return files.length ? loadFiles(files) : [];
}

/** `networking.istio.io/Gateway/web-gateway`: the two APIs both have a kind Gateway. */
const objectKey = (o: FileObject): string => `${o.object.apiVersion.split('/')[0]}/${label(o.object)}`;

function unique(objects: FileObject[]): FileObject[] {
  const seen = new Set<string>();
  return objects.filter((o) => !seen.has(objectKey(o)) && seen.add(objectKey(o)));
}

/**
 * What deploy, apply and traffic created in a routing mode: its base set and optional files. The Gateway API mode
 * includes the istio/ files that apply in it (faults, mesh-internal resilience, security), but never an object
 * istio/base defines (the VirtualService web-ingress of istio/traffic, the DestinationRule web-api).
 */
function modeObjects(mode: RoutingMode, root = REPO_ROOT): { workloads: FileObject[]; config: FileObject[] } {
  const { workloads, istio } = projectObjects(root, mode === 'gateway-api');
  if (mode === 'istio') return { workloads, config: [...istio, ...optionalObjects(path.join(root, 'istio'))] };
  const istioBase = new Set(projectObjects(root, false).istio.map(objectKey));
  const istioOptional = optionalObjects(path.join(root, 'istio')).filter((o) => !istioBase.has(objectKey(o)));
  return { workloads, config: [...istio, ...optionalObjects(path.join(root, 'gateway-api')), ...istioOptional] };
}

export async function undeployCommand(client: KubeClient, io: Output, options: { gatewayApi?: boolean } = {}): Promise<number> {
  const groups = await requireIstio(client);
  const routing = await routingState(client, options.gatewayApi === true, groups);
  // A mixed state (both web-ingress routes deployed) is cleaned up completely.
  const modes: RoutingMode[] = routing.mixed ? ['istio', 'gateway-api'] : [routing.mode];
  const sets = modes.map((mode) => modeObjects(mode));
  const config = unique(sets.flatMap((set) => set.config));
  const workloads = unique(sets.flatMap((set) => set.workloads));
  io.out(`routing: ${modes.map((m) => (m === 'gateway-api' ? 'Kubernetes Gateway API' : 'Istio API')).join(' and ')} (${routing.reason})`);
  for (const { object } of inDeleteOrder(servedObjects(config, groups, io))) {
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
