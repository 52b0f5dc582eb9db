/** The mesh's HTTP listeners (gateway, sidecars, admin): binding with a message that says what to change, and closing with a grace period. */
import type http from 'node:http';
import type net from 'node:net';
import { MeshStartError } from './settings';

export function listen(server: http.Server | net.Server, port: number, what: string, envName: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE') reject(new MeshStartError(`port ${port} is in use: set ${envName} (or ${flag}) to a free port for the ${what}`));
      else if (error.code === 'EACCES') reject(new MeshStartError(`port ${port} needs privileges: set ${envName} (or ${flag}) to a port above 1023`));
      else reject(error);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
export function closeServer(server: http.Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export function configureServer(server: http.Server): void {
  // Above typical client keep-alive (Node agents, browsers) so idle pooled connections are not cut mid-reuse.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 300_000;
}
