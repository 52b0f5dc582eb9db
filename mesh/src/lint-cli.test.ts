/**
 * The lint CLI (`npm run lint:manifests`): in-process through `runLint` for the cases, and once as a real process
 * (from source through tsx, so no build is needed) for the exit code and output streams.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { runLint } from './lint-cli';

const root = path.resolve(__dirname, '../..');
const fixtures = 'mesh/test/fixtures/manifests';

function lint(...args: string[]): { status: number; stdout: string[]; stderr: string } {
  const stdout: string[] = [];
  let stderr = '';
  const status = runLint(['node', 'lint-cli', '--root', root, ...args], {
    out: (line) => stdout.push(line),
    err: (text) => (stderr += text),
  });
  return { status, stdout, stderr };
}

describe('lint-manifests CLI', () => {
  it('passes on the repository and says what it checked', () => {
    const { status, stdout, stderr } = lint();
    expect(stdout).toEqual([]);
    expect(stderr).toMatch(/no findings \(base \+ \d+ optional files, 5 Dockerfiles\)/);
    expect(status).toBe(0);
  });

  it('returns 1 and prints `file: Kind/name: CODE message` for each finding, files applied on top of the base', () => {
    const { status, stdout, stderr } = lint(`${fixtures}/vs-subset-not-found.yaml`, `${fixtures}/service-port-name.yaml`, `${fixtures}/docker/root.Dockerfile`);
    expect(status).toBe(1);
    expect(stdout).toEqual([
      expect.stringMatching(new RegExp(`^${fixtures}/docker/root\\.Dockerfile: Dockerfile/runtime: CNS0201 the final stage runs as root`)),
      expect.stringMatching(new RegExp(`^${fixtures}/service-port-name\\.yaml: Service/articles: IST0118 Port name web `)),
      expect.stringMatching(new RegExp(`^${fixtures}/vs-subset-not-found\\.yaml: VirtualService/web-api: KIA1107 Subset not found: v3 .*\\(line \\d+\\)$`)),
    ]);
    expect(stderr).toMatch(/^3 errors, 0 warnings/);
  });

  it('analyzes paths as one set with --no-base', () => {
    const { status, stdout } = lint('--no-base', `${fixtures}/duplicate-object.yaml`);
    expect(status).toBe(1);
    expect(stdout).toEqual([expect.stringMatching(/duplicate-object\.yaml: ServiceAccount\/extra: CNS0004 /)]);
  });

  it('returns 2 with a message for a path that does not exist or an unknown option', () => {
    const missing = lint('no/such/file.yaml');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('not found: no/such/file.yaml');
    const unknown = lint('--frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--frobnicate'");
  });

  it('lists the finding codes', () => {
    const { status, stdout } = lint('--codes');
    expect(status).toBe(0);
    expect(stdout).toEqual(expect.arrayContaining([expect.stringMatching(/^KIA1107 +VirtualService subset not found$/)]));
  });

  it('exits non-zero as a process, findings on stdout and the summary on stderr', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'mesh/src/lint-cli.ts'), `${fixtures}/vs-zero-weight.yaml`], {
      cwd: root,
      encoding: 'utf8',
      timeout: 80_000,
    });
    expect(result.stdout).toMatch(/^mesh\/test\/fixtures\/manifests\/vs-zero-weight\.yaml: VirtualService\/web-api: IST0106 total destination weight = 0/);
    expect(result.stderr).toMatch(/1 errors, 0 warnings/);
    expect(result.status).toBe(1);
  }, 90_000);
});
