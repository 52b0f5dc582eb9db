// Jest reporter for `npm run test:resilience`: starts each run with an empty result table and prints the
// combined table (.test-results/resilience.md, written by the suites) once every suite has finished.
const fs = require('node:fs');
const path = require('node:path');

const resultsDir = path.resolve(__dirname, '../.test-results');

class ResilienceReporter {
  constructor() {
    // The suites then leave the printing to onRunComplete (reliability/src/report.ts): one table, printed once.
    process.env.RELIABILITY_REPORTER_PRINTS_TABLE = '1';
  }

  onRunStart() {
    fs.rmSync(path.join(resultsDir, 'resilience'), { recursive: true, force: true });
    fs.rmSync(path.join(resultsDir, 'resilience.md'), { force: true });
  }

  onRunComplete(_contexts, results) {
    const file = path.join(resultsDir, 'resilience.md');
    const table = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : 'no result table was written\n';
    const seconds = Math.round((Date.now() - results.startTime) / 1000);
    process.stdout.write(
      `\n${table}\n${results.numPassedTests} passed, ${results.numFailedTests} failed in ${seconds} s (table: ${path.relative(process.cwd(), file)})\n`,
    );
  }
}

module.exports = ResilienceReporter;
