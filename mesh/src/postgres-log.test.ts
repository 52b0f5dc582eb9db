import { serverLogFilter } from './postgres-log';

const at = (pid: number, level: string, message: string) => `2026-12-06 05:29:20.083 UTC [${pid}] ${level}:  ${message}`;

describe('PostgreSQL server lines shown in the mesh terminal', () => {
  it('leaves out the routine lines and the expected FATALs of a start and a Ctrl-C', () => {
    const shown = serverLogFilter();
    const routine = [
      at(2097, 'LOG', 'starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu'),
      at(2097, 'LOG', 'listening on IPv4 address "127.0.0.1", port 39897'),
      at(2110, 'FATAL', 'the database system is starting up'),
      at(2097, 'LOG', 'database system is ready to accept connections'),
      at(2097, 'LOG', 'received fast shutdown request'),
      at(2236, 'FATAL', 'terminating connection due to administrator command'),
      at(2097, 'LOG', 'background worker "logical replication launcher" (PID 2103) exited with exit code 1'),
      at(2098, 'LOG', 'checkpoint complete: wrote 935 buffers (22.8%); 0 WAL file(s) added'),
      at(2097, 'LOG', 'database system is shut down'),
    ];
    expect(routine.filter(shown)).toEqual([]);
  });

  it('shows warnings, errors, other FATALs with their DETAIL, crashes, and lines it does not know', () => {
    const shown = serverLogFilter();
    const wanted = [
      at(3001, 'FATAL', 'password authentication failed for user "postgres"'),
      at(3001, 'DETAIL', 'Connection matched pg_hba.conf line 99: "host all all all scram-sha-256"'),
      at(3002, 'ERROR', 'relation "articles" does not exist at character 15'),
      at(3002, 'WARNING', 'there is no transaction in progress'),
      at(2097, 'LOG', 'server process (PID 3003) was terminated by signal 9: Killed'),
      at(2097, 'LOG', 'could not bind IPv4 address "127.0.0.1": Address already in use'),
      at(2097, 'HINT', 'Is another postmaster already running on port 39897? If not, wait a few seconds and retry.'),
      at(2097, 'PANIC', 'could not write to file "pg_wal/xlogtemp.2097": No space left on device'),
      'postgres: could not bind IPv4 address "127.0.0.1": Address already in use',
    ];
    expect(wanted.filter(shown)).toEqual(wanted);
    expect([at(3004, 'FATAL', 'terminating connection due to administrator command'), at(3004, 'CONTEXT', 'while waiting')].filter(shown)).toEqual([]);
  });
});
