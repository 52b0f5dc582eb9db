import { RepeatedWarnings } from './repeated-warnings';

function recordingLogger() {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }) };
  return { lines, logger: logger as never };
}

describe('RepeatedWarnings', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('logs the first failure of a kind at once and its repeats as one line per interval', () => {
    const { lines, logger } = recordingLogger();
    const warnings = new RepeatedWarnings(logger, 10_000);
    for (let i = 0; i < 700; i++) warnings.warn('authors|status 500', { upstream: 'authors', reason: 'status 500' }, 'authors call failed');
    warnings.warn('articles|timeout', { upstream: 'articles', reason: 'timeout' }, 'articles call failed');
    expect(lines.map((l) => l.message)).toEqual(['authors call failed', 'articles call failed']);

    jest.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual([
      { fields: { upstream: 'authors', reason: 'status 500', repeated: 699, intervalMs: 10_000 }, message: 'authors call failed (699 more times in 10 s)' },
    ]);
    // A new interval: the next failure is logged at once again.
    warnings.warn('authors|status 500', { upstream: 'authors', reason: 'status 500' }, 'authors call failed');
    expect(lines).toHaveLength(4);
    jest.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
  });
});
