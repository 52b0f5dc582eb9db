/**
 * A Service's named targetPort resolves against the pod's container ports, as Kubernetes does: the port
 * AuthorizationPolicy `ports` compare (issue 23). Checked on this repository's own k8s/ manifests, where web-app's
 * Service port 80 sends to the container port named `http` (8080).
 */
import path from 'node:path';
import type { Service } from '../model';
import { podPort } from '../dataplane/authorization';
import { loadManifestFiles } from '../manifests/load';
import { buildTopology } from './topology';

const root = path.resolve(__dirname, '../../..');

test("web-app's Service port 80 (targetPort: http) reaches its pods on 8080", () => {
  const topology = buildTopology(loadManifestFiles(['k8s'], { root }).objects);
  const webApp = topology.workloads.find((w) => w.workload.name === 'web-app')!.workload;
  expect(webApp.containerPorts).toEqual({ http: 8080 });
  const service = topology.services.find((s) => s.object.metadata.name === 'web-app')!.object as Service;
  const port = service.spec!.ports![0]!;
  expect(port).toMatchObject({ port: 80, targetPort: 'http' });
  expect(podPort(port.targetPort, port.port, webApp)).toBe(8080);
});
