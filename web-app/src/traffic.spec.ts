import { describe, expect, it } from 'vitest';
import { roundedPercents, runTraffic, summarizeTraffic, type Outcome } from './traffic';
import { fakeFetch, jsonResponse } from './testing';

const v = (version: string): Outcome => ({ version });

describe('summarizeTraffic', () => {
  it('is empty for no requests (no division by zero)', () => {
    expect(summarizeTraffic([])).toEqual({ total: 0, errors: 0, slices: [] });
  });

  it('gives relative shares per version, sorted by version', () => {
    const outcomes = [...Array(3).fill(v('v2')), ...Array(7).fill(v('v1'))];
    expect(summarizeTraffic(outcomes)).toEqual({
      total: 10,
      errors: 0,
      slices: [
        { label: 'v1', count: 7, percent: 70 },
        { label: 'v2', count: 3, percent: 30 },
      ],
    });
  });

  it('sorts versions numerically (v2 before v10) and puts errors last', () => {
    const s = summarizeTraffic([v('v10'), v('v2'), { error: 'HTTP 503' }, v('v2')]);
    expect(s.slices.map((x) => [x.label, x.count, x.percent])).toEqual([
      ['v2', 2, 50],
      ['v10', 1, 25],
      ['error', 1, 25],
    ]);
    expect(s.errors).toBe(1);
  });
});

describe('roundedPercents', () => {
  it('keeps exact values', () => {
    expect(
      roundedPercents([
        { label: 'a', count: 4, percent: 80 },
        { label: 'b', count: 1, percent: 20 },
      ]),
    ).toEqual([80, 20]);
  });
  it('hands the missing points to the largest remainders', () => {
    const p = (percent: number) => ({ label: 'x', count: 1, percent });
    expect(roundedPercents([p(100 / 3), p(100 / 3), p(100 / 3)])).toEqual([34, 33, 33]);
    expect(roundedPercents([p(66.5), p(33.5)])).toEqual([67, 33]);
    expect(roundedPercents([p(12.6), p(87.4)])).toEqual([13, 87]);
  });
  it('is empty for no slices', () => {
    expect(roundedPercents([])).toEqual([]);
  });
});

describe('runTraffic', () => {
  it('sends exactly count requests and never more than concurrency at once', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const api = fakeFetch(async (call) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight -= 1;
      return jsonResponse([], { version: call % 2 ? 'v2' : 'v1' });
    });
    const outcomes = await runTraffic({ count: 25, concurrency: 4, fetchImpl: api.impl });
    expect(outcomes).toHaveLength(25);
    expect(api.calls).toHaveLength(25);
    expect(maxInFlight).toBe(4);
  });

  it('records a response without the version header as "unknown" and failures as errors', async () => {
    const api = fakeFetch((call) => {
      if (call === 0) return new Response('{}', { status: 200 });
      if (call === 1) return new Response('nope', { status: 502 });
      throw new TypeError('Failed to fetch');
    });
    const outcomes = await runTraffic({ count: 3, concurrency: 1, fetchImpl: api.impl });
    expect(outcomes).toEqual([{ version: 'unknown' }, { error: 'HTTP 502' }, { error: 'network error' }]);
  });

  it('stops starting new requests once aborted', async () => {
    const controller = new AbortController();
    const api = fakeFetch(() => jsonResponse([], { version: 'v1' }));
    const outcomes = await runTraffic({
      count: 50,
      concurrency: 1,
      fetchImpl: api.impl,
      signal: controller.signal,
      onProgress: (so) => so.length === 5 && controller.abort(),
    });
    expect(outcomes).toHaveLength(5);
  });
});
