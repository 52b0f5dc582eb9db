/**
 * Creates as a careful client sends them (issue 25): each with its own Idempotency-Key, retried with the same key and
 * body when the answer does not say "stored" or "refused" (no answer, 5xx), so a create that timed out is neither
 * lost nor stored twice. Then the check that every answer told the truth, read from the database itself.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import YAML from 'yaml';
import fs from 'node:fs';
import path from 'node:path';
import type { MeshHandle } from '@cns/mesh';
import { agentFor, runOpenLoop, sendRequest, type RequestSpec, type Sample } from './load';
import { readyEndpoints } from './stack';

export interface CreateOutcome {
  index: number;
  key: string;
  title: string;
  /** Every attempt in order; the last one is the answer the client kept. */
  attempts: Array<Omit<Sample, 'startedAtMs'>>;
}

export interface IdempotentCreateOptions {
  baseUrl: string;
  ratePerSecond: number;
  durationMs: number;
  /** Distinguishes this run's articles (titles and keys) from every other's. */
  runId: string;
  maxAttempts?: number;
  /** Pause before retry n is n × this. */
  retryDelayMs?: number;
  timeoutMs?: number;
}

/** 2xx, or a 4xx (the request itself was refused): an answer a client keeps. Anything else is retried. */
const isFinal = (status: number): boolean => status >= 200 && status < 500;

export async function runIdempotentCreates(options: IdempotentCreateOptions): Promise<CreateOutcome[]> {
  const { runId, maxAttempts = 6, retryDelayMs = 500, timeoutMs = 5000 } = options;
  const outcomes: CreateOutcome[] = [];
  const retries: Array<Promise<void>> = [];
  const retryAgent = agentFor(options.baseUrl, 64);
  const specFor = (index: number): RequestSpec => ({
    method: 'POST',
    path: '/web-api/v1/create',
    headers: { 'content-type': 'application/json', 'idempotency-key': `${runId}-${index}` },
    body: JSON.stringify({ title: `reliability ${runId} #${index}`, url: `https://example.com/reliability/${runId}/${index}`, author: 'Reliability Suite' }),
  });
  const retryUntilFinal = async (outcome: CreateOutcome): Promise<void> => {
    while (!isFinal(outcome.attempts.at(-1)!.status) && outcome.attempts.length < maxAttempts) {
      await delay(retryDelayMs * outcome.attempts.length);
      outcome.attempts.push(await sendRequest(options.baseUrl, specFor(outcome.index), retryAgent, timeoutMs));
    }
  };
  try {
    await runOpenLoop({
      baseUrl: options.baseUrl,
      request: specFor,
      ratePerSecond: options.ratePerSecond,
      durationMs: options.durationMs,
      timeoutMs,
      keepSamples: false,
      onSample: (sample, index) => {
        const outcome: CreateOutcome = { index, key: `${runId}-${index}`, title: `reliability ${runId} #${index}`, attempts: [sample] };
        outcomes.push(outcome);
        retries.push(retryUntilFinal(outcome));
      },
    });
    await Promise.all(retries);
  } finally {
    retryAgent.destroy();
  }
  return outcomes.sort((a, b) => a.index - b.index);
}

export interface CreateAudit {
  /** Answered 201 in the end. */
  created: number;
  /** Needed more than one attempt. */
  retried: number;
  /** Last answer not 2xx: the client gave up (lost from its point of view). */
  gaveUp: CreateOutcome[];
  /** Answered 201 but not stored under the id it named. */
  missing: CreateOutcome[];
  /**
   * Stored although the last answer said it was not: a 4xx or a 503 (a lie). A 504 "outcome unknown" or no answer at
   * all claims nothing, so those may be stored (the client then retries them with the key, and is counted in gaveUp
   * if it never learnt the outcome).
   */
  storedBehindError: CreateOutcome[];
  /** Titles stored more than once. */
  duplicated: string[];
}

/** An answer that tells the client nothing was stored: its request was refused (4xx) or the service was unavailable. */
const saysNotStored = (status: number): boolean => (status >= 400 && status < 500) || status === 503;

/** Compares every create's last answer with what the articles table holds for this run. */
export async function auditCreates(mesh: MeshHandle, root: string, runId: string, outcomes: readonly CreateOutcome[]): Promise<CreateAudit> {
  const rows = await queryArticles(mesh, root, 'SELECT id::text AS id, title FROM articles WHERE title LIKE $1', [`reliability ${runId} #%`]);
  const stored = new Map<string, string[]>();
  for (const row of rows as Array<{ id: string; title: string }>) stored.set(row.title, [...(stored.get(row.title) ?? []), row.id]);
  const last = (o: CreateOutcome) => o.attempts.at(-1)!;
  const createdId = (o: CreateOutcome): string | undefined => {
    try {
      return last(o).status === 201 ? (JSON.parse(last(o).body) as { id?: string }).id : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    created: outcomes.filter((o) => last(o).status === 201).length,
    retried: outcomes.filter((o) => o.attempts.length > 1).length,
    gaveUp: outcomes.filter((o) => last(o).status < 200 || last(o).status >= 300),
    missing: outcomes.filter((o) => last(o).status === 201 && !(stored.get(o.title) ?? []).includes(createdId(o) ?? '')),
    storedBehindError: outcomes.filter((o) => saysNotStored(last(o).status) && stored.has(o.title)),
    duplicated: [...stored].filter(([, ids]) => ids.length > 1).map(([title]) => title),
  };
}

/** One query against the stack's PostgreSQL, with the credentials of the manifests' Secret `postgres-credentials`. */
async function queryArticles(mesh: MeshHandle, root: string, text: string, values: unknown[]): Promise<unknown[]> {
  const secret = YAML.parseAllDocuments(fs.readFileSync(path.join(root, 'k8s/postgres.yaml'), 'utf8'))
    .map((doc) => doc.toJS() as { kind?: string; metadata?: { name?: string }; stringData?: Record<string, string> })
    .find((o) => o?.kind === 'Secret' && o.metadata?.name === 'postgres-credentials')?.stringData;
  const [endpoint] = readyEndpoints(mesh, 'postgres');
  if (!secret || !endpoint) throw new Error('no postgres-credentials Secret in k8s/postgres.yaml, or postgres is not ready');
  const client = new pg.Client({ host: '127.0.0.1', port: endpoint.port, user: secret.username, password: secret.password, database: secret.database });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}
