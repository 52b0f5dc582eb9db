import fs from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { chooseLocalPostgresEngine, startLocalPostgres, systemPostgresUnavailable } from './postgres';
import { freePort } from './net';
import { processRunning, withDescendants } from '@cns/service-kit/testing';

jest.setTimeout(90_000);

it('takes the engine from LOCAL_POSTGRES and refuses anything else by name', () => {
  expect(chooseLocalPostgresEngine({ LOCAL_POSTGRES: 'embedded' })).toBe('embedded');
  expect(chooseLocalPostgresEngine({ LOCAL_POSTGRES: 'system' })).toBe('system');
  expect(() => chooseLocalPostgresEngine({ LOCAL_POSTGRES: 'sqlite' })).toThrow('LOCAL_POSTGRES=sqlite: must be "system" or "embedded"');
  expect(chooseLocalPostgresEngine({ POSTGRES_BIN_DIR: '/nonexistent' })).toBe('embedded');
});

const missing = systemPostgresUnavailable();
const run = missing && process.env.CI !== 'true' ? it.skip : it;
run(`starts the system server on a loopback port with the given credentials and leaves no process behind${missing ? ` [needs ${missing}]` : ''}`, async () => {
  const server = await startLocalPostgres({ engine: 'system', database: 'articles', user: 'articles', password: 's3cret', durable: false });
  expect(server.url).toBe(`postgres://articles:s3cret@127.0.0.1:${server.port}/articles`);
  const client = new pg.Client(server.url);
  await client.connect();
  expect((await client.query('SELECT current_user AS u, current_database() AS d')).rows[0]).toEqual({ u: 'articles', d: 'articles' });
  await client.end();
  // A wrong password is refused: the loopback port uses password authentication as on the cluster.
  const intruder = new pg.Client({ connectionString: server.url.replace('s3cret', 'guess') });
  await expect(intruder.connect()).rejects.toThrow(/password authentication failed/);
  const postmaster = fs.readFileSync(`${server.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]!;
  const pids = withDescendants([Number(postmaster)]);
  await server.stop();
  expect(pids.filter(processRunning)).toEqual([]);
  expect(fs.existsSync(server.dataDir)).toBe(false);
});

// The port picked for the server (it cannot bind port 0 and report) taken by another process before the server
// binds it: a fresh port, logged. The first pick is made certain to be taken.
describe.each(missing ? (['embedded'] as const) : (['embedded', 'system'] as const))('a picked port taken before the %s server binds it', (engine) => {
  it('starts the server on a fresh port and logs the move', async () => {
    const holder = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const taken = (holder.address() as net.AddressInfo).port;
    const picks: number[] = [];
    const log: string[] = [];
    try {
      const server = await startLocalPostgres({
        engine,
        database: 'articles',
        user: 'articles',
        password: 'port-test',
        durable: false,
        log: (line) => log.push(line),
        pickPort: async () => {
          const port = picks.length === 0 ? taken : await freePort();
          picks.push(port);
          return port;
        },
      });
      try {
        expect(picks).toEqual([taken, server.port]);
        const client = new pg.Client(server.url);
        await client.connect();
        expect((await client.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
        await client.end();
        expect(log).toContain(`port ${taken} was taken before the server bound it; trying port ${server.port} (attempt 2 of 5)`);
      } finally {
        await server.stop();
      }
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
  // Worse than a refused port: another PostgreSQL on it that accepts the same credentials (a second mesh, a
  // developer's own server) would answer the start-up check in our server's place.
  it('does not mistake another server on the picked port for its own', async () => {
    const other = await startLocalPostgres({ engine, database: 'articles', user: 'articles', password: 'same', durable: false });
    const picks: number[] = [];
    try {
      const client = new pg.Client(other.url);
      await client.connect();
      await client.query('CREATE TABLE belongs_to_the_other_server (id int)');
      await client.end();
      const server = await startLocalPostgres({
        engine,
        database: 'articles',
        user: 'articles',
        password: 'same',
        durable: false,
        pickPort: async () => {
          const port = picks.length === 0 ? other.port : await freePort();
          picks.push(port);
          return port;
        },
      });
      try {
        expect(picks).toEqual([other.port, server.port]);
        const own = new pg.Client(server.url);
        await own.connect();
        const found = await own.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'belongs_to_the_other_server'");
        await own.end();
        expect(found.rows[0]).toEqual({ n: 0 });
      } finally {
        await server.stop();
      }
    } finally {
      await other.stop();
    }
  });
});
