/**
 * The lint CLI as a user runs it (`npm run lint:manifests`), from source through tsx so no build is needed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const fixtures = 'mesh/test/fixtures/manifests';
// Each run starts a process that compiles the schemas; on a busy 2-core machine that can take a while.
jest.setTimeout(90_000);

function lint(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'mesh/src/lint-cli.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 80_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('lint-manifests CLI', () => {
  it('passes on the repository and says what it checked', () => {
    const { status, stdout, stderr } = lint();
    expect(stdout).toBe('');
    expect(stderr).toMatch(/no findings \(base \+ \d+ optional files, 5 Dockerfiles\)/);
    expect(status).toBe(0);
  });

  it('exits 1 and prints `file: Kind/name: CODE message` for each finding', () => {
    const { status, stdout } = lint(`${fixtures}/vs-subset-not-found.yaml`, `${fixtures}/service-port-name.yaml`, `${fixtures}/docker/root.Dockerfile`);
    expect(status).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${fixtures}/docker/root\\.Dockerfile: Dockerfile/runtime: CNS0201 the final stage runs as root`)),
      expect.stringMatching(new RegExp(`^${fixtures}/service-port-name\\.yaml: Service/articles: IST0118 Port name web `)),
      expect.stringMatching(new RegExp(`^${fixtures}/vs-subset-not-found\\.yaml: VirtualService/web-api: KIA1107 Subset not found: v3 .*\\(line \\d+\\)$`)),
    ]);
  });

  it('analyzes paths as one set with --no-base', () => {
    const { status, stdout } = lint('--no-base', `${fixtures}/duplicate-object.yaml`);
    expect(status).toBe(1);
    expect(stdout).toMatch(/duplicate-object\.yaml: ServiceAccount\/extra: CNS0004 /);
  });

  it('exits 2 with a message for a path that does not exist or an unknown option', () => {
    const missing = lint('no/such/file.yaml');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('not found: no/such/file.yaml');
    expect(lint('--frobnicate').status).toBe(2);
  });
});
