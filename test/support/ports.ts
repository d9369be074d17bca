/** Free local ports, for processes that cannot listen on port 0 themselves and report it (Azurite). */
import { createServer } from 'node:net';

/** A port nothing listens on right now (the OS picks it). */
export function freePort(hostname = '127.0.0.1'): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, hostname, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** Whether `port` can be listened on right now. */
export function isPortFree(port: number, hostname = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, hostname, () => server.close(() => done(true)));
  });
}
