/**
 * Security checks that need no running app: the manifests keep the hardened securityContext, mutual TLS STRICT
 * and the AuthorizationPolicies; the mesh's admin API refuses clients that are not on loopback.
 */
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import type { K8sObject } from '@cns/mesh';
import { networkNamespaceUnavailable, withNetworkNamespace } from '@cns/service-kit/testing';
import YAML from 'yaml';
import { loadManifestFiles } from '../../mesh/src/manifests';
import { createAdminServer, isLoopback, type AdminBackend } from '../../mesh/src/runtime/admin';
import { ResultTable, repoRoot } from '../src';

interface Container {
  name: string;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  containers: Container[];
}
interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  action?: string;
  rules?: Array<{ from?: Array<{ source?: { principals?: string[] } }> }>;
}

const table = new ResultTable('security-static');
afterAll(() => table.flush());

const objectsIn = (paths: string[]): K8sObject[] => {
  const loaded = loadManifestFiles(paths, { root: repoRoot });
  expect(loaded.findings.filter((f) => f.severity === 'error')).toEqual([]);
  return loaded.objects.map((o) => o.object);
};

describe('manifests keep their security settings', () => {
  const k8s = objectsIn(['k8s']);
  const istioBase = objectsIn(['istio/base']);
  const deployments = k8s.filter((o) => o.kind === 'Deployment') as Array<
    K8sObject & { spec: { template: { spec: PodSpec; metadata: { labels: Record<string, string> } } } }
  >;

  it('every Deployment runs non-root, read-only, without privilege escalation or capabilities, with limits', () =>
    table.run('manifests: hardened securityContext', async (row) => {
      const problems: string[] = [];
      for (const d of deployments) {
        const pod = d.spec.template.spec;
        const where = `Deployment ${d.metadata.name}`;
        if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot is not true`);
        if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: no RuntimeDefault seccomp profile`);
        if (pod.hostNetwork) problems.push(`${where}: hostNetwork`);
        if (pod.automountServiceAccountToken !== false) problems.push(`${where}: mounts a service account token`);
        for (const c of pod.containers) {
          const sc = c.securityContext ?? {};
          const at = `${where} container ${c.name}`;
          if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
          if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
          if (sc.runAsNonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
          if (sc.privileged) problems.push(`${at}: privileged`);
          if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${at}: capabilities.drop lacks ALL`);
          if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities`);
          if (!c.resources?.limits?.cpu || !c.resources.limits.memory) problems.push(`${at}: no cpu/memory limits`);
        }
      }
      row.requests = deployments.length;
      row.failures = problems.length;
      row.note = `${deployments.length} Deployments`;
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['articles', 'authors', 'web-api-v1', 'web-api-v2', 'web-app']);
      expect(problems).toEqual([]);
    }));

  it('istio/base has mutual TLS STRICT for the namespace, and its kustomization applies it', () =>
    table.run('manifests: PeerAuthentication STRICT', async (row) => {
      const peer = istioBase.filter((o) => o.kind === 'PeerAuthentication');
      row.requests = peer.length;
      const strict = peer.find((p) => p.metadata.name === 'default' && !(p.spec as { selector?: unknown }).selector);
      row.failures = strict && (strict.spec as { mtls?: { mode?: string } }).mtls?.mode === 'STRICT' ? 0 : 1;
      expect(strict).toBeDefined();
      expect((strict!.spec as { mtls?: { mode?: string } }).mtls?.mode).toBe('STRICT');
      const kustomization = YAML.parse(fs.readFileSync(path.join(repoRoot, 'istio/base/kustomization.yaml'), 'utf8')) as { resources?: string[] };
      expect(kustomization.resources).toContain('security.yaml');
      // Nothing relaxes it again per workload or port.
      for (const p of peer) {
        const spec = p.spec as { mtls?: { mode?: string }; portLevelMtls?: Record<string, { mode?: string }> };
        expect(spec.mtls?.mode ?? 'STRICT').toBe('STRICT');
        for (const port of Object.values(spec.portLevelMtls ?? {})) expect(port.mode).toBe('STRICT');
      }
    }));

  it('AuthorizationPolicies allow only ingress → web-app/web-api and web-api → articles/authors', () =>
    table.run('manifests: AuthorizationPolicies', async (row) => {
      const policies = istioBase.filter((o) => o.kind === 'AuthorizationPolicy') as Array<K8sObject & { spec: AuthorizationPolicySpec }>;
      const ingress = 'cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';
      const webApiSa = 'cluster.local/ns/default/sa/web-api';
      const expected: Record<string, string[]> = { 'web-app': [ingress], 'web-api': [ingress], articles: [webApiSa], authors: [webApiSa] };
      const problems: string[] = [];
      for (const [app, principals] of Object.entries(expected)) {
        const mine = policies.filter((p) => p.spec.selector?.matchLabels?.app === app);
        if (mine.length !== 1) {
          problems.push(`${app}: ${mine.length} AuthorizationPolicies (want 1)`);
          continue;
        }
        const spec = mine[0].spec;
        if ((spec.action ?? 'ALLOW') !== 'ALLOW') problems.push(`${app}: action ${spec.action}`);
        const allowed = (spec.rules ?? []).flatMap((r) => (r.from ?? []).flatMap((f) => f.source?.principals ?? []));
        if (JSON.stringify(allowed.sort()) !== JSON.stringify(principals)) problems.push(`${app}: allows ${allowed.join(', ') || 'everyone'}`);
        if ((spec.rules ?? []).some((r) => !r.from || r.from.length === 0)) problems.push(`${app}: a rule without "from" allows every caller`);
      }
      // The principal web-api is allowed under must be the service account web-api's pods really run as.
      for (const d of deployments.filter((x) => x.spec.template.metadata.labels.app === 'web-api')) {
        if (d.spec.template.spec.serviceAccountName !== 'web-api')
          problems.push(`${d.metadata.name}: serviceAccountName ${d.spec.template.spec.serviceAccountName}`);
      }
      expect(k8s.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'web-api')).toBe(true);
      row.requests = policies.length;
      row.failures = problems.length;
      expect(problems).toEqual([]);
    }));
});

describe('mesh admin API', () => {
  it('isLoopback accepts only loopback addresses', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address)).toBe(true);
    for (const address of ['10.0.0.5', '192.0.2.2', '::ffff:10.0.0.5', 'fd00::2', '0.0.0.0', '::', '', undefined, '1127.0.0.1', '::ffff:192.168.0.1']) {
      expect(isLoopback(address)).toBe(false);
    }
  });

  // A real client on a non-loopback address: a network namespace joined by a veth pair (root and iproute2; CI has
  // both, so there it always runs).
  const netnsMissing = process.env.CI === 'true' ? undefined : networkNamespaceUnavailable();
  (netnsMissing ? it.skip : it)(
    `answers 403 to a client on a non-loopback address even when bound to every interface${netnsMissing ? ` [${netnsMissing}]` : ''}`,
    () =>
      table.run('admin API refuses non-loopback clients', (row) =>
        withNetworkNamespace(async (ns) => {
          const server = createAdminServer({ namespace: 'default', root: path.resolve(repoRoot) } as unknown as AdminBackend);
          await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
          const port = (server.address() as net.AddressInfo).port;
          const script = `require('node:http').get(process.argv[1], (r) => { let t = ''; r.on('data', (c) => (t += c)); r.on('end', () => console.log(r.statusCode, t)); }).on('error', (e) => { console.error(e); process.exit(2); })`;
          try {
            const remote = await ns.exec(process.execPath, ['-e', script, `http://${ns.hostAddress}:${port}/healthz`]);
            const local = await fetch(`http://127.0.0.1:${port}/healthz`);
            row.requests = 2;
            row.failures = (remote.stdout.startsWith('403 ') ? 0 : 1) + (local.status === 200 ? 0 : 1);
            expect(remote).toMatchObject({ code: 0, stdout: expect.stringMatching(/^403 .*loopback clients only/s) });
            expect(local.status).toBe(200);
          } finally {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
          }
        }),
      ),
  );
});
