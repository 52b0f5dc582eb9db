/**
 * Workloads from the manifests (topology.ts): one per Deployment or StatefulSet with its pod labels, env and the
 * local command, the start order; checked on this repository's own k8s/ manifests.
 */
import path from 'node:path';
import { loadManifestFiles } from '../manifests';
import { buildTopology, startOrder } from './topology';
import { UnknownWorkloadError } from './workload-commands';

describe('buildTopology', () => {
  it('refuses a Deployment the command table does not know, naming the table', () => {
    const objects = [
      {
        object: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'payments' },
          spec: { selector: {}, template: { metadata: {}, spec: { containers: [] } } },
        },
        source: { file: 'k8s/payments.yaml' },
      },
    ];
    expect(() => buildTopology(objects)).toThrow(UnknownWorkloadError);
    expect(() => buildTopology(objects)).toThrow(/payments.*k8s\/payments\.yaml.*workload-commands\.ts/);
  });
});

describe('topology from the repository k8s/ manifests', () => {
  const loaded = loadManifestFiles(['k8s'], { root: path.resolve(__dirname, '../../..') }).objects;
  const topology = buildTopology(loaded);

  it('has one workload per Deployment with pod labels, env, readiness path and grace period', () => {
    const v2 = topology.workloads.find((w) => w.workload.name === 'web-api-v2')!;
    expect(v2.workload).toMatchObject({ app: 'web-api', version: 'v2', serviceAccount: 'web-api', replicas: 1 });
    expect(v2.env).toMatchObject({ ARTICLES_URL: 'http://articles:8080', AUTHORS_URL: 'http://authors:3000' });
    expect(v2.readinessPath).toBe('/readyz');
    expect(v2.terminationGraceMs).toBe(20_000);
    expect(v2.command.argv).toEqual(['node', 'web-api-v2/dist/server.js']);
  });

  it("runs the postgres StatefulSet with the Secret's credentials and gives articles a DATABASE_URL built from them", () => {
    const postgres = topology.workloads.find((w) => w.workload.name === 'postgres')!;
    expect(postgres).toMatchObject({ stateful: true, readinessKind: 'postgres' });
    expect(postgres.workload).toMatchObject({ app: 'postgres', version: 'v1', serviceAccount: 'postgres', replicas: 1 });
    expect(postgres.env).toMatchObject({ POSTGRES_USER: 'articles', POSTGRES_DB: 'articles', POSTGRES_PASSWORD: expect.any(String) });
    const articles = topology.workloads.find((w) => w.workload.name === 'articles')!;
    // $(VAR) expanded from the variables above it, as the kubelet does.
    expect(articles.env.DATABASE_URL).toBe(`postgres://articles:${postgres.env.POSTGRES_PASSWORD}@postgres:5432/articles`);
    expect(articles.stateful).toBe(false);
  });

  it('starts the services a workload calls before it (postgres before articles: its URL names it)', () => {
    const groups = startOrder(topology.workloads, topology.services).map((g) => g.map((s) => s.workload.name).sort());
    expect(groups).toEqual([['authors', 'postgres', 'web-app'], ['articles'], ['web-api-v1', 'web-api-v2']]);
  });
});
