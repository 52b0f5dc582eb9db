/**
 * AuthorizationPolicy details checked against istiod's translation (pilot/pkg/security/authz/model/generator.go,
 * builder/builder.go) and Envoy's RBAC filter (issue 23): ports of a named targetPort, hosts/notHosts, dry-run.
 */
import type { AuthorizationPolicy, AuthorizationPolicySpec, LoadedObject, Service } from '../model';
import { send, startMesh, workload, type MeshFixture } from './test-harness';

const webApi = workload('web-api-v1', 'web-api', 'v1');
// Like this repository's Deployments: the container port is named, the Service points at the name.
const authors = { ...workload('authors', 'authors', 'v1'), containerPorts: { http: 3100 } };

const authorsService: LoadedObject<Service> = {
  object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'authors' }, spec: { selector: { app: 'authors' }, ports: [{ name: 'http', port: 3000, targetPort: 'http' }] } },
  source: { file: 'k8s/authors.yaml' },
};

export function policy(name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): LoadedObject<AuthorizationPolicy> {
  return {
    object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, annotations }, spec },
    source: { file: `istio/security/${name}.yaml` },
  };
}

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function meshWith(policies: LoadedObject<AuthorizationPolicy>[]): Promise<MeshFixture> {
  mesh = await startMesh({
    replicas: [{ id: 'authors-0', workload: authors }],
    source: { kind: 'sidecar', workload: webApi },
    state: { services: [authorsService], istio: { gateways: [], virtualServices: [], destinationRules: [], authorizationPolicies: policies } },
  });
  return mesh;
}

type Operation = NonNullable<NonNullable<NonNullable<AuthorizationPolicySpec['rules']>[number]['to']>[number]['operation']>;
const allowTo = (operation: Operation) => policy('authors', { selector: { matchLabels: { app: 'authors' } }, rules: [{ to: [{ operation }] }] });

describe('to.operation.ports / notPorts and destination.port: the port the pod receives on (destPortGenerator)', () => {
  test.each([
    [{ ports: ['3100'] }, 200],
    [{ ports: ['3000'] }, 403],
    [{ notPorts: ['3100'] }, 403],
    [{ notPorts: ['3000'] }, 200],
  ])('a named targetPort resolves to the container port: %j → %i', async (operation, status) => {
    await meshWith([allowTo(operation)]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(status);
  });

  test('when.destination.port compares the container port too', async () => {
    await meshWith([policy('authors', { rules: [{ when: [{ key: 'destination.port', values: ['3100'] }] }] })]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(200);
  });
});

describe('to.operation.hosts / notHosts: the :authority as the callee receives it, any case (HostMatcher)', () => {
  test.each([
    [{ hosts: ['authors:3000'] }, 200],
    // The Host a caller sends carries the port: a host without it does not match (add both forms, as Istio's docs say).
    [{ hosts: ['authors'] }, 403],
    [{ hosts: ['*:3000'] }, 200],
    [{ hosts: ['*'] }, 200],
    [{ notHosts: ['AUTHORS:3000'] }, 403],
    [{ notHosts: ['other*'] }, 200],
  ])('%j → %i', async (operation, status) => {
    await meshWith([allowTo(operation)]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(status);
  });
});
