// Helpers for the component tests: a fake fetch that answers like web-api does.
import type { Article } from './api';

export const sampleArticles: Article[] = [
  {
    id: '1',
    title: 'Blue-green deployments with Istio',
    url: 'https://example.com/blue-green',
    authorName: 'Niklas Heidloff',
    authorBlog: 'http://heidloff.net',
    authorTwitter: '@nheidloff',
  },
  {
    id: '2',
    title: 'Traffic shifting, step by step',
    url: 'https://example.com/traffic',
    authorName: 'Harald Uebele',
    authorBlog: 'https://haralduebele.blog/',
    authorTwitter: '@harald_u',
  },
];

export function jsonResponse(body: unknown, init: { status?: number; version?: string } = {}): Response {
  const headers = new Headers({ 'content-type': 'application/json' });
  if (init.version) headers.set('x-web-api-version', init.version);
  return new Response(JSON.stringify(body), { status: init.status ?? 200, headers });
}

/** A fetch that records its calls and answers each with `answer(callIndex)`. */
export function fakeFetch(answer: (call: number, url: string) => Response | Promise<Response>) {
  const calls: string[] = [];
  const impl = (async (input: RequestInfo | URL) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    return answer(calls.length - 1, url);
  }) as typeof fetch;
  return { impl, calls };
}
