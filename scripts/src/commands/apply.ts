/** `apply -f` / `remove -f`: optional Istio and Gateway API files over the base set. */
import { UserError } from '../errors';
import type { Output } from '../io';
import { KubeClient, type IstioObject } from '../kube';
import {
  analyzeOverBase,
  formatWarning,
  inApplyOrder,
  inDeleteOrder,
  label,
  loadFiles,
  projectObjects,
  requireIstioObjects,
  sourceOf,
  usesGatewayApi,
} from '../manifests';
import { requireIstio, servedObjects } from './shared';

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
