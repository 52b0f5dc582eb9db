/**
 * Test support shared by the workspaces' tests (articles, web-app/e2e, reliability): a local PostgreSQL server and a
 * free loopback port. They live in the mesh (its postgres workload and supervisor use them) but are not part of what
 * `@cns/mesh` offers a mesh user, so tests reach them here, through the mesh's `./postgres` and `./net` subpaths.
 */
export { freePort } from '@cns/mesh/net';
export {
  chooseLocalPostgresEngine,
  startLocalPostgres,
  systemPostgresUnavailable,
  waitForPostgres,
  type LocalPostgres,
  type LocalPostgresEngine,
  type LocalPostgresOptions,
} from '@cns/mesh/postgres';
