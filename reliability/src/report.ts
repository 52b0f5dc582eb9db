/**
 * The result table of the reliability suite: scenario, requests, failures, p99, result. Each test file keeps its
 * rows, writes them to `.test-results/resilience/<suite>.json` when it ends and rebuilds
 * `.test-results/resilience.md` from every suite's rows (jest runs files in separate workers).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ResultRow {
  scenario: string;
  requests: number;
  /** What counts as a failure is scenario-specific and said in `note`. */
  failures: number;
  p99Ms?: number;
  result: 'pass' | 'FAIL';
  note?: string;
}

export const resultsDir = path.resolve(__dirname, '../../.test-results');
const rowsDir = path.join(resultsDir, 'resilience');
export const markdownFile = path.join(resultsDir, 'resilience.md');
/** Set by reliability/reporter.js (in jest's process, inherited by its workers). */
export const REPORTER_PRINTS_TABLE = 'RELIABILITY_REPORTER_PRINTS_TABLE';

export class ResultTable {
  readonly rows: ResultRow[] = [];
  constructor(readonly suite: string) {}

  /**
   * Runs one scenario: `body` fills in the numbers as soon as it has them (before its assertions), the row
   * says pass only when the body completes.
   */
  async run(scenario: string, body: (row: ResultRow) => Promise<void>): Promise<void> {
    const row: ResultRow = { scenario, requests: 0, failures: 0, result: 'FAIL' };
    this.rows.push(row);
    await body(row);
    row.result = 'pass';
  }

  /**
   * Writes this suite's rows, rebuilds the markdown table from every suite, and prints this suite's table unless
   * reliability/reporter.js runs (it prints the combined table once at the end: each table printed once).
   */
  flush(): void {
    fs.mkdirSync(rowsDir, { recursive: true });
    fs.writeFileSync(path.join(rowsDir, `${this.suite}.json`), JSON.stringify({ suite: this.suite, at: new Date().toISOString(), rows: this.rows }, null, 2));
    fs.writeFileSync(markdownFile, renderAll());
    if (process.env[REPORTER_PRINTS_TABLE] !== '1') process.stdout.write(`\n${renderTable(this.rows, this.suite)}\n`);
  }
}

function cell(value: string): string {
  return value.replace(/\|/g, '\\|');
}

export function renderTable(rows: readonly ResultRow[], suite: string): string {
  const lines = [
    `### ${suite}`,
    '',
    '| scenario | requests | failures | p99 | result | note |',
    '|---|---:|---:|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${cell(r.scenario)} | ${r.requests} | ${r.failures} | ${r.p99Ms === undefined ? '-' : `${Math.round(r.p99Ms)} ms`} | ${r.result} | ${cell(r.note ?? '')} |`,
    ),
  ];
  return lines.join('\n');
}

/** Every suite's table from the row files of this run. */
export function renderAll(): string {
  const files = fs.existsSync(rowsDir)
    ? fs
        .readdirSync(rowsDir)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];
  const parts = files.map((file) => {
    const { suite, at, rows } = JSON.parse(fs.readFileSync(path.join(rowsDir, file), 'utf8')) as { suite: string; at: string; rows: ResultRow[] };
    return `${renderTable(rows, suite)}\n\n_${rows.filter((r) => r.result === 'pass').length}/${rows.length} passed, ${at}_`;
  });
  return `# Reliability and security results\n\n${parts.join('\n\n')}\n`;
}
