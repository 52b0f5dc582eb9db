import { describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import TrafficPanel from './TrafficPanel.vue';
import { fakeFetch, jsonResponse, sampleArticles } from '../testing';

/** A web-api that answers v2 for every fifth request (exactly 80/20) and fails where `fails` says. */
function splitApi(fails: (call: number) => boolean = () => false) {
  return fakeFetch((call) => {
    if (fails(call)) return jsonResponse({ error: 'ServiceUnavailable', message: 'down' }, { status: 503 });
    return jsonResponse(sampleArticles, { version: call % 5 === 4 ? 'v2' : 'v1' });
  });
}

describe('TrafficPanel', () => {
  it('fires the requested number of requests and shows the v1/v2 shares as a bar', async () => {
    const api = splitApi();
    const wrapper = mount(TrafficPanel, { props: { fetchImpl: api.impl } });
    expect(wrapper.find('[data-test="traffic-result"]').exists()).toBe(false);

    await wrapper.find('[data-test="traffic-count"]').setValue('100');
    await wrapper.find('form').trigger('submit');
    await flushPromises();

    expect(api.calls).toHaveLength(100);
    expect(new Set(api.calls)).toEqual(new Set(['/web-api/v1/getmultiple']));
    expect(wrapper.find('[data-test="traffic-progress"]').text()).toBe('100 of 100 requests done.');
    expect(wrapper.find('[data-test="legend-v1"]').text()).toBe('v1 80% (80)');
    expect(wrapper.find('[data-test="legend-v2"]').text()).toBe('v2 20% (20)');
    expect(wrapper.find('[data-test="slice-v1"]').attributes('style')).toContain('width: 80%');
    expect(wrapper.find('[data-test="slice-v2"]').attributes('style')).toContain('width: 20%');
    expect(wrapper.find('[data-test="traffic-bar"]').attributes('aria-label')).toBe('Share per version: v1 80% (80), v2 20% (20)');
    expect(wrapper.find('[data-test="traffic-send"]').text()).toBe('Send requests');
  });

  it('counts failed requests as their own slice so the shares add up to 100 %', async () => {
    // 10 requests: calls 0, 3, 6, 9 fail (4 errors); of the other 6, call 4 is v2.
    const api = splitApi((call) => call % 3 === 0);
    const wrapper = mount(TrafficPanel, { props: { fetchImpl: api.impl, defaultCount: 10 } });
    await wrapper.find('form').trigger('submit');
    await flushPromises();

    expect(api.calls).toHaveLength(10);
    expect(wrapper.find('[data-test="traffic-progress"]').text()).toBe('10 of 10 requests done, 4 failed.');
    expect(wrapper.find('[data-test="legend-v1"]').text()).toBe('v1 50% (5)');
    expect(wrapper.find('[data-test="legend-v2"]').text()).toBe('v2 10% (1)');
    expect(wrapper.find('[data-test="legend-error"]').text()).toBe('error 40% (4)');
  });

  it('rounds the legend so it still adds up to 100 (1/3 each → 34 + 33 + 33)', async () => {
    const api = fakeFetch((call) => {
      if (call % 3 === 2) throw new TypeError('Failed to fetch');
      return jsonResponse([], { version: call % 3 === 0 ? 'v1' : 'v2' });
    });
    const wrapper = mount(TrafficPanel, { props: { fetchImpl: api.impl, defaultCount: 3 } });
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    const texts = ['v1', 'v2', 'error'].map((l) => wrapper.find(`[data-test="legend-${l}"]`).text());
    expect(texts).toEqual(['v1 34% (1)', 'v2 33% (1)', 'error 33% (1)']);
  });

  it('refuses a count outside 1–1000 and sends nothing', async () => {
    const api = splitApi();
    const wrapper = mount(TrafficPanel, { props: { fetchImpl: api.impl } });
    await wrapper.find('[data-test="traffic-count"]').setValue('0');
    expect(wrapper.find('[role="alert"]').text()).toBe('Enter a whole number from 1 to 1000.');
    expect(wrapper.find('[data-test="traffic-send"]').attributes('disabled')).toBeDefined();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(api.calls).toHaveLength(0);
  });

  it('disables the button while a run is in flight and shows progress', async () => {
    const pending: Array<() => void> = [];
    const api = fakeFetch((call) => new Promise<Response>((resolve) => pending.push(() => resolve(jsonResponse([], { version: call === 0 ? 'v1' : 'v2' })))));
    const wrapper = mount(TrafficPanel, { props: { fetchImpl: api.impl, defaultCount: 2 } });
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.find('[data-test="traffic-send"]').text()).toBe('Sending…');
    expect(wrapper.find('[data-test="traffic-send"]').attributes('disabled')).toBeDefined();

    pending[0]!();
    await flushPromises();
    expect(wrapper.find('[data-test="traffic-progress"]').text()).toBe('1 of 2 requests done.');
    pending[1]!();
    await flushPromises();
    expect(wrapper.find('[data-test="traffic-progress"]').text()).toBe('2 of 2 requests done.');
    expect(wrapper.find('[data-test="traffic-send"]').attributes('disabled')).toBeUndefined();
  });
});
