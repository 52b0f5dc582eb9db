import { describe, expect, it } from 'vitest';
import { MESH_ADMIN_CONFIG_PATH, findMeshAdmin } from './meshGraph';
import { fakeFetch, jsonResponse } from './testing';

describe('findMeshAdmin', () => {
  it('links the admin that /mesh-admin.json names, on whatever port it is', async () => {
    const api = fakeFetch(() => jsonResponse({ adminUrl: 'http://localhost:15123' }));
    const links = await findMeshAdmin('localhost', api.impl, 1000, '');
    expect(api.calls).toEqual([MESH_ADMIN_CONFIG_PATH]);
    expect(links?.graph).toBe('http://localhost:15123/graph');
    expect(links?.trace('ab12')).toBe('http://localhost:15123/traces?trace=ab12');
  });

  it('gives no links when the server says there is no mesh admin (the image) or answers something else', async () => {
    expect(await findMeshAdmin('127.0.0.1', fakeFetch(() => jsonResponse({ adminUrl: null })).impl, 1000, '')).toBeUndefined();
    // A server without the answer falls back to index.html (a single-page app): that is no admin URL.
    const html = () => new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } });
    expect(await findMeshAdmin('localhost', fakeFetch(html).impl, 1000, '')).toBeUndefined();
    expect(await findMeshAdmin('localhost', fakeFetch(() => Promise.reject(new TypeError('Failed to fetch'))).impl, 1000, '')).toBeUndefined();
  });

  it("asks nothing behind an ingress (not localhost): the admin URL would lead to the visitor's own machine", async () => {
    const api = fakeFetch(() => jsonResponse({ adminUrl: 'http://localhost:15000' }));
    expect(await findMeshAdmin('192.168.49.2', api.impl, 1000, '')).toBeUndefined();
    expect(api.calls).toHaveLength(0);
  });

  it('gives up after the timeout when the server hangs', async () => {
    const hanging = ((_: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))))) as typeof fetch;
    expect(await findMeshAdmin('localhost', hanging, 20, '')).toBeUndefined();
  });
});
