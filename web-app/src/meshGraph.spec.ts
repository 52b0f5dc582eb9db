import { describe, expect, it } from 'vitest';
import { MESH_GRAPH_URL, probeMeshGraph } from './meshGraph';
import { fakeFetch } from './testing';

describe('probeMeshGraph', () => {
  it('is true on localhost when the graph page answers (an opaque no-cors response counts)', async () => {
    const api = fakeFetch(() => new Response(null, { status: 200 }));
    expect(await probeMeshGraph('localhost', api.impl)).toBe(true);
    expect(api.calls).toEqual([MESH_GRAPH_URL]);
  });

  it('is false on localhost when nothing listens there', async () => {
    const api = fakeFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    expect(await probeMeshGraph('127.0.0.1', api.impl)).toBe(false);
  });

  it('does not probe at all behind an ingress (not localhost)', async () => {
    const api = fakeFetch(() => new Response(null));
    expect(await probeMeshGraph('192.168.49.2', api.impl)).toBe(false);
    expect(api.calls).toHaveLength(0);
  });

  it('gives up after the timeout when the port hangs', async () => {
    const hanging = ((_: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))))) as typeof fetch;
    expect(await probeMeshGraph('localhost', hanging, 20)).toBe(false);
  });
});
