import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { HTTPRoute } from '@cns/mesh/gateway-api';
import { activeRouteSplit, buildRouteSplitPatch, findGetMultipleRule, statusCaughtUp } from './traffic-httproute';

const repoRoot = path.resolve(__dirname, '../..');
const base = parse(fs.readFileSync(path.join(repoRoot, 'gateway-api/base/httproute-web-ingress.yaml'), 'utf8')) as HTTPRoute;
const canary = parse(fs.readFileSync(path.join(repoRoot, 'gateway-api/traffic/web-ingress-80-20.yaml'), 'utf8')) as HTTPRoute;

describe('traffic on the HTTPRoute web-ingress', () => {
  it('finds the getmultiple rule by its path match (no rule names in the pinned CRDs)', () => {
    expect(findGetMultipleRule(base).index).toBe(1);
  });

  it('patches only that rule, guarded by a test of its matches; the result equals the 80/20 file', () => {
    const ops = buildRouteSplitPatch(base, { v1: 80, v2: 20 });
    expect(ops[0]).toEqual({ op: 'test', path: '/spec/rules/1/matches', value: base.spec!.rules![1].matches });
    expect(ops[1]).toEqual({ op: 'replace', path: '/spec/rules/1/backendRefs', value: canary.spec!.rules![1].backendRefs });
  });

  it('100 0 leaves one backendRef; the shares read back follow the weights (default weight 1)', () => {
    expect(buildRouteSplitPatch(canary, { v1: 100, v2: 0 })[1]).toMatchObject({ value: [{ name: 'web-api-v1', port: 9080, weight: 100 }] });
    expect(activeRouteSplit(canary).map((s) => [s.subset, s.percent])).toEqual([
      ['v1', 80],
      ['v2', 20],
    ]);
    expect(activeRouteSplit(base).map((s) => [s.subset, s.percent])).toEqual([
      ['v1', 100],
      ['v2', 0],
    ]);
  });

  it('the status has caught up only when every condition of every parent reports the generation', () => {
    const at = (generation: number, observed: number[]) =>
      ({
        ...base,
        metadata: { ...base.metadata, generation },
        status: { parents: [{ conditions: observed.map((o) => ({ observedGeneration: o })) }] },
      }) as HTTPRoute;
    expect(statusCaughtUp(at(3, [3, 3]))).toBe(true);
    expect(statusCaughtUp(at(3, [3, 2]))).toBe(false);
    expect(statusCaughtUp(base)).toBe(false);
  });
});
