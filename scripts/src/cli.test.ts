import { main } from './cli';
import { BufferedOutput } from './io';

async function run(...argv: string[]): Promise<{ code: number; io: BufferedOutput }> {
  const io = new BufferedOutput();
  // A closed admin port: nothing here may reach a target anyway.
  const code = await main(argv, io, { MESH_ADMIN_URL: 'http://127.0.0.1:9' });
  return { code, io };
}

describe('cli', () => {
  it.each(['check', 'deploy', 'urls', 'traffic', 'apply', 'remove', 'load', 'undeploy'])('%s --help exits 0 with the npm usage', async (name) => {
    const { code, io } = await run(name, '--help');
    expect(code).toBe(0);
    expect(io.stdout[0]).toMatch(new RegExp(`^Usage: npm run ${name} -- \\[options\\]`));
    expect(io.stdout.join('\n')).toContain('--cluster');
  });

  it.each([
    [['traffic', '80'], "error: missing required argument 'v2'"],
    [['traffic', '80', 'twenty'], 'error: invalid split: v2 weight "twenty" is not an integer from 0 to 100 (e.g. `traffic 80 20`)'],
    [['load', '--count', '0'], 'error: --count must be an integer from 1 to 100000, got "0"'],
    [['load', '--rate', 'fast'], 'error: --rate must be an integer from 0 to 10000, got "fast"'],
    [['deploy', '--timeout', '-5'], 'error: --timeout must be an integer from 1 to 3600, got "-5"'],
    [['apply'], "error: required option '-f, --file <file...>' not specified"],
    [['apply', '-f', 'no/such/file.yaml'], 'error: no/such/file.yaml: no such file'],
    [['check', '--mesh-url', 'localhost:15000'], 'error: the mesh admin URL must look like http://HOST:PORT, got "localhost:15000"'],
    [['check', '--cluster', '--mesh-url', 'http://127.0.0.1:15000'], 'error: --mesh-url and --cluster/--context are exclusive: pick one target'],
  ])('%j: one line, exit 1', async (argv, message) => {
    const { code, io } = await run(...argv);
    expect(io.stderr).toEqual([message]);
    expect(io.stdout).toEqual([]);
    expect(code).toBe(1);
  });

  it('an unknown command suggests the right one', async () => {
    const { code, io } = await run('trafic', '80', '20');
    expect(io.stderr[0]).toBe("error: unknown command 'trafic'");
    expect(io.stderr.join(' ')).toContain('Did you mean traffic?');
    expect(code).toBe(1);
  });
});
