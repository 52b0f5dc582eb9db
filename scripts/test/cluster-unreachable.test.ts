/**
 * `check --cluster` without a cluster (the acceptance test of the issue): one line naming the API URL and the
 * cause, exit code 1, no stack trace. Run as a real process so that what the user sees is what is asserted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { main } from '../src/cli';
import { BufferedOutput } from '../src/io';

const repoRoot = path.resolve(__dirname, '../..');
const tsxCli = require.resolve('tsx/cli');

/** A loopback port that nothing listens on: bound once to learn a free number, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function kubeconfig(dir: string, server: string): string {
  const file = path.join(dir, 'config');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: minikube',
      '  cluster:',
      `    server: ${server}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: minikube',
      '  user:',
      '    token: not-a-real-token',
      'contexts:',
      '- name: minikube',
      '  context: {cluster: minikube, user: minikube, namespace: default}',
      'current-context: minikube',
      '',
    ].join('\n'),
  );
  return file;
}

function cli(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'scripts/src/cli.ts'), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: env.HOME, ...env },
    encoding: 'utf8',
    timeout: 120_000, // tsx start-up is slow on a busy machine
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('check --cluster without a cluster', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scripts-kube-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints one line naming the API server and the cause, exits 1', async () => {
    const port = await closedPort();
    const result = cli(['check', '--cluster'], { KUBECONFIG: kubeconfig(dir, `https://127.0.0.1:${port}`), HOME: dir });
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: cannot reach the Kubernetes API at https://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (is minikube running?)\n`,
    );
    expect(result.status).toBe(1);
  }, 150_000);

  describe('in-process (same code, without a process start per case)', () => {
    const saved = process.env.KUBECONFIG;
    afterEach(() => {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    });

    async function check(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; io: BufferedOutput }> {
      const io = new BufferedOutput();
      const code = await main(args, io, env);
      return { code, io };
    }

    it('`npm run check --cluster` (npm keeps the flag as npm_config_cluster) targets the cluster too', async () => {
      const port = await closedPort();
      process.env.KUBECONFIG = kubeconfig(dir, `https://127.0.0.1:${port}`);
      const { code, io } = await check(['check'], { npm_config_cluster: 'true' });
      expect(io.stderr).toEqual([
        `error: cannot reach the Kubernetes API at https://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (is minikube running?)`,
      ]);
      expect(code).toBe(1);
    });

    it('every command that needs the API fails the same way', async () => {
      const port = await closedPort();
      process.env.KUBECONFIG = kubeconfig(dir, `https://127.0.0.1:${port}`);
      for (const args of [['traffic', '80', '20'], ['urls'], ['undeploy'], ['apply', '-f', path.join(repoRoot, 'istio/faults/authors-delay.yaml')]]) {
        const { code, io } = await check([...args, '--cluster']);
        expect(io.stderr).toEqual([expect.stringMatching(/^error: cannot reach the Kubernetes API at .*\(is minikube running\?\)$/)]);
        expect(code).toBe(1);
      }
    });

    it('no kubeconfig file: says so in one line', async () => {
      process.env.KUBECONFIG = path.join(dir, 'missing-config');
      const { code, io } = await check(['check', '--cluster']);
      expect(io.stderr).toEqual([`error: no kubeconfig at ${path.join(dir, 'missing-config')} (is minikube running? \`minikube start\` writes one)`]);
      expect(code).toBe(1);
    });

    it('--context naming an unknown context lists the known ones', async () => {
      process.env.KUBECONFIG = kubeconfig(dir, 'https://127.0.0.1:1');
      const { code, io } = await check(['check', '--context', 'prod']);
      expect(io.stderr).toEqual(['error: kube context "prod" not found (known: minikube)']);
      expect(code).toBe(1);
    });

    it('without --cluster and no mesh running: names the mesh URL and both ways out', async () => {
      const port = await closedPort();
      const { code, io } = await check(['traffic', '80', '20'], { MESH_ADMIN_PORT: String(port) });
      expect(io.stderr).toEqual([
        `error: the local mesh is not running at http://127.0.0.1:${port} (start it with \`npm start\`); pass --cluster to use the current kube context`,
      ]);
      expect(code).toBe(1);
    });
  });
});
