import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import App from './App.vue';
import { fakeFetch, jsonResponse, sampleArticles } from './testing';
import { MESH_ADMIN_CONFIG_PATH } from './meshGraph';
// The error class web-api answers with (service-kit), so the body here is the one the service really sends.
import { ServiceUnavailableError } from '../../service-kit/src/errors';

const ADMIN = 'http://localhost:15123';

/** Mounts the app against a fake web-api; `meshGraph` says whether a local mesh runs the app (its admin URL is served). */
function mountWithApi(answer: Parameters<typeof fakeFetch>[0], meshGraph = false) {
  const probes: string[] = [];
  const inits: Array<RequestInit | undefined> = [];
  const api = fakeFetch(answer);
  const impl = ((input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input) === MESH_ADMIN_CONFIG_PATH) {
      probes.push(String(input));
      return Promise.resolve(jsonResponse({ adminUrl: meshGraph ? ADMIN : null }));
    }
    inits.push(init);
    return api.impl(input, init);
  }) as typeof fetch;
  vi.stubGlobal('fetch', impl);
  return { wrapper: mount(App), calls: api.calls, probes, inits };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('App', () => {
  it('shows a loading state until web-api answers, then the articles', async () => {
    let release!: (r: Response) => void;
    const { wrapper, calls } = mountWithApi(() => new Promise<Response>((resolve) => (release = resolve)));
    expect(wrapper.find('[data-test="loading"]').text()).toBe('Loading articles…');
    expect(wrapper.find('section').attributes('aria-busy')).toBe('true');
    expect(wrapper.find('[data-test="reload"]').attributes('disabled')).toBeDefined();

    // The call starts once the local-mesh probe has answered (it decides whether the call starts a trace).
    await flushPromises();
    expect(wrapper.find('[data-test="loading"]').exists()).toBe(true);
    release(jsonResponse(sampleArticles, { version: 'v1' }));
    await flushPromises();
    expect(wrapper.find('[data-test="loading"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-test="article"]')).toHaveLength(2);
    // Relative URL: the same build works behind any ingress address.
    expect(calls[0]).toBe('/web-api/v1/getmultiple');
  });

  it('shows the serving version from x-web-api-version and the article count', async () => {
    const { wrapper } = mountWithApi(() => jsonResponse(sampleArticles, { version: 'v2' }));
    await flushPromises();
    expect(wrapper.find('[data-test="version-badge"]').text()).toBe('web-api v2');
    expect(wrapper.find('[data-test="article-count"]').text()).toBe('2 articles');
  });

  it('says so when the version header is missing', async () => {
    const { wrapper } = mountWithApi(() => jsonResponse(sampleArticles.slice(0, 1)));
    await flushPromises();
    expect(wrapper.find('[data-test="version-badge"]').text()).toBe('web-api version unknown');
    expect(wrapper.find('[data-test="article-count"]').text()).toBe('1 article');
  });

  it('shows an empty state for an empty list', async () => {
    const { wrapper } = mountWithApi(() => jsonResponse([], { version: 'v1' }));
    await flushPromises();
    expect(wrapper.find('[data-test="empty"]').text()).toBe('No articles yet.');
    expect(wrapper.find('[data-test="articles"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="article-count"]').text()).toBe('0 articles');
  });

  it('shows what failed when articles is down (503 JSON from web-api)', async () => {
    // web-api's answer when articles is down and it has no earlier answer (web-api/src/aggregation.ts).
    const down = new ServiceUnavailableError('articles service is unavailable (ECONNREFUSED) and there is no earlier answer to serve');
    const { wrapper } = mountWithApi(() => jsonResponse(down.toJSON(), { status: down.status, version: 'v1' }));
    await flushPromises();
    const error = wrapper.find('[data-test="error"]');
    expect(error.attributes('role')).toBe('alert');
    expect(error.text()).toContain('Could not load the articles.');
    expect(error.text()).toContain(`The articles service is unavailable: ${down.message}`);
    expect(wrapper.find('[data-test="articles"]').exists()).toBe(false);
    // web-api itself answered: which version failed is worth knowing (e.g. a fault on v2 only).
    expect(wrapper.find('[data-test="version-badge"]').text()).toBe('web-api v1');
    expect(wrapper.find('[data-test="article-count"]').exists()).toBe(false);
  });

  it('shows a network error and recovers on Reload', async () => {
    const { wrapper, calls } = mountWithApi((call) => {
      if (call === 0) throw new TypeError('Failed to fetch');
      return jsonResponse(sampleArticles, { version: 'v1' });
    });
    await flushPromises();
    expect(wrapper.find('[data-test="error"]').text()).toContain('Could not reach web-api (network error).');
    expect(wrapper.find('[data-test="version-badge"]').exists()).toBe(false);

    await wrapper.find('[data-test="reload"]').trigger('click');
    await flushPromises();
    expect(calls).toHaveLength(2);
    expect(wrapper.find('[data-test="error"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-test="article"]')).toHaveLength(2);
  });

  it('reports a non-JSON answer (e.g. an HTML page from a misrouted ingress) as an error', async () => {
    const { wrapper } = mountWithApi(() => new Response('<!doctype html><title>x</title>', { status: 200, headers: { 'content-type': 'text/html' } }));
    await flushPromises();
    expect(wrapper.find('[data-test="error"]').text()).toContain('not JSON');
  });

  it('links the mesh graph page on the admin port the server names, only with a local mesh (page on localhost)', async () => {
    expect(window.location.hostname).toBe('localhost');
    const up = mountWithApi(() => jsonResponse(sampleArticles, { version: 'v1' }), true);
    await flushPromises();
    expect(up.probes).toEqual([MESH_ADMIN_CONFIG_PATH]);
    const link = up.wrapper.find('[data-test="mesh-graph-link"]');
    expect(link.attributes('href')).toBe(`${ADMIN}/graph`);
    expect(link.text()).toBe('Mesh graph (local mesh)');

    const down = mountWithApi(() => jsonResponse(sampleArticles, { version: 'v1' }), false);
    await flushPromises();
    expect(down.probes).toHaveLength(1);
    expect(down.wrapper.find('[data-test="mesh-graph-link"]').exists()).toBe(false);
  });

  it('with a local mesh, starts a trace for each getmultiple and links its trace page', async () => {
    const up = mountWithApi(() => jsonResponse(sampleArticles, { version: 'v1' }), true);
    await flushPromises();
    const traceparent = (up.inits[0]?.headers as Record<string, string>).traceparent;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = traceparent.split('-')[1];
    const link = up.wrapper.find('[data-test="trace-link"]');
    expect(link.text()).toBe(traceId);
    expect(link.attributes('href')).toBe(`${ADMIN}/traces?trace=${traceId}`);

    // Reload: a new trace, and the link follows the last request.
    await up.wrapper.find('[data-test="reload"]').trigger('click');
    await flushPromises();
    const second = (up.inits[1]?.headers as Record<string, string>).traceparent.split('-')[1];
    expect(second).not.toBe(traceId);
    expect(up.wrapper.find('[data-test="trace-link"]').text()).toBe(second);
  });

  it('without a local mesh, sends no trace context and shows no trace link', async () => {
    const down = mountWithApi(() => jsonResponse(sampleArticles, { version: 'v1' }), false);
    await flushPromises();
    expect((down.inits[0]?.headers as Record<string, string>).traceparent).toBeUndefined();
    expect(down.wrapper.find('[data-test="trace"]').exists()).toBe(false);
  });
});
