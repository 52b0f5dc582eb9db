/** `deploy` / `undeploy`: k8s/ and the routing base set, with the rollout wait. */
import fs from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { UserError, firstLine } from '../errors';
import { meshEndpoints, meshWorkloadStates } from '../mesh-admin';
import type { Output } from '../io';
import { KubeClient } from '../kube';
import { folderFiles, inApplyOrder, inDeleteOrder, label, loadFiles, projectObjects, REPO_ROOT, type FileObject } from '../manifests';
import { rolloutDone, rolloutState } from '../rollout';
import { requireIstio, servedObjects, type GatewayOptions } from './shared';
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
