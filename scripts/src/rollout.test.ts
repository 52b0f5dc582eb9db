import { meshWorkloadStates } from './mesh-admin';
import { rolloutDone, rolloutState } from './rollout';

describe('rolloutDone', () => {
  const desired = { metadata: { name: 'web-api-v2', generation: 2 }, spec: { replicas: 2 } };
  it('done when the new spec is observed and every replica is updated and available', () => {
    expect(rolloutDone({ ...desired, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } })).toBe(true);
  });
  it('not done while the controller has not seen the new spec', () => {
    expect(rolloutDone({ ...desired, status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } })).toBe(false);
  });
  it('not done while a new replica is unavailable or an old one still runs', () => {
    expect(rolloutDone({ ...desired, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 } })).toBe(false);
    expect(rolloutDone({ ...desired, status: { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 } })).toBe(false);
  });
  it('says what it waits for', () => {
    expect(rolloutState({ ...desired, status: { updatedReplicas: 1, availableReplicas: 0 } })).toBe('web-api-v2 1/2 updated, 0/2 available');
  });
});

describe('meshWorkloadStates (local mesh)', () => {
  it('a workload is ready when all of its replicas are; one without replicas is not', () => {
    const states = meshWorkloadStates(
      [
        { id: 'web-api-v1-0', workload: 'web-api-v1', ready: true },
        { id: 'web-api-v1-1', workload: 'web-api-v1', ready: false },
        { id: 'articles-0', workload: 'articles', ready: true },
      ],
      ['web-api-v1', 'articles', 'authors'],
    );
    expect(Object.fromEntries(states)).toEqual({
      'web-api-v1': { ready: false, state: 'web-api-v1 1/2 replicas ready' },
      articles: { ready: true, state: 'articles 1/1 replicas ready' },
      authors: { ready: false, state: 'authors 0/0 replicas ready' },
    });
  });
});
