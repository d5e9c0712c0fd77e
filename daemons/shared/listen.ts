/** Starts a server on a unix socket (inside the sandbox it is bound in) or on 127.0.0.1 with a free port. */
import { rmSync } from 'node:fs';
import type { Server } from 'node:net';

export type ListenAt = { socketPath: string } | { loopback: true };

/** Where a server listens: its socket path, or its loopback port. */
export type Listening = { socketPath: string } | { port: number };

export async function listenOn(server: Server, at: ListenAt): Promise<Listening> {
  if ('socketPath' in at) rmSync(at.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('socketPath' in at) server.listen(at.socketPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  if ('socketPath' in at) return { socketPath: at.socketPath };
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0 };
}

/** Closes a server and every connection it still holds. */
export async function closeServer(server: Server & { closeAllConnections?: () => void }, sockets?: Set<{ destroy(): void }>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
  for (const s of sockets ?? []) s.destroy();
  await closed;
}
