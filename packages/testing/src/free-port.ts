import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback port nothing listens on now, for a server that must know its port before it starts (a redirect URI
 * or a child process's environment names it). Another process may take it meanwhile: where a server can listen
 * on port 0 and say which port it got, that is the better way.
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
