/**
 * Test helpers shared by every workspace's tests (imported as `@cns/service-kit/testing`).
 */
import { execFileSync } from 'node:child_process';

const installHints: Record<string, string> = {
  nginx: 'apt-get install -y nginx',
  chromium: 'apt-get install -y chromium',
  kubectl: 'see https://kubernetes.io/docs/tasks/tools/',
};

/** Absolute path of an executable on PATH (or at an absolute path), or undefined. */
export function findExecutable(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v "$0"`, name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `describe` that runs only when `tool` is installed. When it is missing the suite is skipped and its title
 * says why and how to install it, so the test runner's skip list explains itself.
 */
export function describeWithTool(tool: string, title: string, body: () => void): void {
  if (findExecutable(tool)) {
    describe(title, body);
  } else {
    const hint = installHints[tool] ? ` (install: ${installHints[tool]})` : '';
    describe.skip(`${title} [needs ${tool}, not installed${hint}]`, body);
  }
}
