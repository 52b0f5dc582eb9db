/** mesh-routes.ts on its own: the match augmentation of mesh routes (README.md of this folder). */
import { forConsumers, withPortMatch } from './mesh-routes';

describe('match augmentation', () => {
  it('withPortMatch puts the port on every match, and gives a rule without matches one; forConsumers likewise the namespace', () => {
    const rules = [{ name: 'a', match: [{ uri: { prefix: '/x' } }, { method: { exact: 'GET' } }] }, { name: 'b' }];
    expect(withPortMatch(rules, 80).map((r) => r.match)).toEqual([
      [
        { uri: { prefix: '/x' }, port: 80 },
        { method: { exact: 'GET' }, port: 80 },
      ],
      [{ port: 80 }],
    ]);
    expect(withPortMatch(rules, undefined)).toEqual(rules);
    expect(forConsumers(rules, { group: '', kind: 'Service', name: 'echo', namespace: 'default' }, 'consumer')[1].match).toEqual([
      { sourceNamespace: 'consumer' },
    ]);
    expect(forConsumers(rules, { group: '', kind: 'Service', name: 'echo' }, 'consumer')).toEqual(rules);
  });
});
