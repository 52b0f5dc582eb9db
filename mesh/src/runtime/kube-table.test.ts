/** The Table kubectl asks for: the CRD table convertor's cells and apimachinery's HumanDuration ages. */
import type { IncomingMessage } from 'node:http';
import { asTable, humanDuration, wantsTable } from './kube-table';

describe('HumanDuration, as kubectl prints AGE', () => {
  it.each([
    [-3_000, '<invalid>'],
    [-1_000, '0s'],
    [45_000, '45s'],
    [119_000, '119s'],
    [200_000, '3m20s'],
    [300_000, '5m'],
    [12 * 60_000, '12m'],
    [(5 * 60 + 30) * 60_000, '5h30m'],
    [30 * 3_600_000, '30h'],
    [(3 * 24 + 4) * 3_600_000, '3d4h'],
    [40 * 24 * 3_600_000, '40d'],
    [(2 * 365 + 10) * 24 * 3_600_000, '2y10d'],
    [9 * 365 * 24 * 3_600_000, '9y'],
  ])('%d ms → %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe('the Table', () => {
  it('is asked for by kubectl’s Accept header only', () => {
    const req = (accept: string) => ({ headers: { accept } }) as IncomingMessage;
    expect(wantsTable(req('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'))).toBe('v1');
    expect(wantsTable(req('application/json'))).toBeUndefined();
  });

  it('cells: the first JSONPath result, a non-string as JSON, a missing value null, the age from creationTimestamp', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const object = {
      metadata: { name: 'gw', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { hostnames: ['a.example', 'b.example'] },
      status: { addresses: [{ value: '10.0.0.1' }, { value: '10.0.0.2' }], conditions: [{ type: 'Accepted', status: 'True' }] },
    };
    const table = asTable(
      'v1',
      [
        { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
        { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' },
        { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
      [object],
      '7',
      now,
    ) as { rows: Array<{ cells: unknown[] }>; columnDefinitions: Array<{ name: string }> };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Address', 'Hostnames', 'Programmed', 'Age']);
    expect(table.rows[0].cells).toEqual(['gw', '10.0.0.1', '["a.example","b.example"]', null, '60m']);
  });
});
