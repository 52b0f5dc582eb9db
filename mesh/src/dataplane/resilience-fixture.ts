/**
 * The gateway mesh and upstream behaviours the resilience tests share (a test helper, left out of dist/ like
 * ./test-harness.ts): authors (one or more replicas) and articles behind the gateway VirtualService `edge`.
 */
import http from 'node:http';
import type { DestinationRuleSpec, HTTPRoute, TrafficPolicy } from '../model';
import { seededRandom } from './random';
import { destinationRule, echo, gateway, service, startMesh, status, virtualService, workload, type MeshFixture, type UpstreamBehaviour } from './test-harness';

export const authors = workload('authors', 'authors', 'v1');
export const articles = workload('articles', 'articles', 'v1');
export const services = [service('authors', 3000), service('articles', 8080)];
export const authorsRoute = { destination: { host: 'authors' } };

export interface Setup {
  http?: HTTPRoute[];
  policy?: TrafficPolicy;
  drSpec?: DestinationRuleSpec;
  authorsReplicas?: number;
  seed?: number;
  now?: () => number;
  maxRequestBodyBytes?: number;
}

/** A gateway mesh with `authorsReplicas` authors endpoints (authors-0..n) and one articles endpoint. */
export async function startResilienceMesh({
  http: rules = [{ route: [authorsRoute] }],
  policy,
  drSpec,
  authorsReplicas = 1,
  seed = 1,
  now,
  maxRequestBodyBytes,
}: Setup): Promise<MeshFixture> {
  const replicas = [
    ...Array.from({ length: authorsReplicas }, (_, i) => ({ id: `authors-${i}`, workload: authors })),
    { id: 'articles-0', workload: articles },
  ];
  const rules_ = [destinationRule('authors', drSpec ?? { host: 'authors', trafficPolicy: policy })];
  return startMesh({
    replicas,
    random: seededRandom(seed),
    now,
    maxRequestBodyBytes,
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http: rules })],
        destinationRules: policy || drSpec ? rules_ : [],
      },
    },
  });
}

/** An upstream behaviour that holds every request until `release()`; after that it answers at once. */
export function holdable(): { behaviour: UpstreamBehaviour; release: () => void } {
  const held: Array<() => void> = [];
  let released = false;
  return {
    behaviour: (req, res, upstream) => {
      const answer = () => echo(req, res, upstream);
      if (released) answer();
      else held.push(answer);
    },
    release: () => {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
  };
}

/** Answers the first `failures` requests with `code`, then echoes. */
export function failFirst(failures: number, code: number): UpstreamBehaviour {
  return (req, res, upstream) => (upstream.hits <= failures ? status(code)(req, res, upstream) : echo(req, res, upstream));
}

export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
