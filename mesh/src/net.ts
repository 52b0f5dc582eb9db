/** Small network helpers shared by the runtime (supervisor) and the Postgres launcher; no mesh imports. */
import net from 'node:net';

/**
 * A free loopback port (the kernel picks it; the listener is closed before the child binds it, so another process
 * can take it in between: callers must handle a bind failure, or let the child bind port 0 and report its port).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
