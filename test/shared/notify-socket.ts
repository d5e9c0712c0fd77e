/**
 * A real NOTIFY_SOCKET for tests: a unix datagram socket (python3, since Node has none) that
 * records every message the way systemd would receive it. PID 1 here is not systemd.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { onCleanup, tempDir } from '../helpers.js';

const RECEIVER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)  # closing the barrier fd is how systemd says "processed"
    print(json.dumps({"message": data.decode()}), flush=True)
`;

export interface NotifySocket {
  path: string;
  /** Every message but the BARRIER=1 that systemd-notify sends after each one. */
  messages: string[];
  /** Resolves with the first message (received so far or later) that `match` accepts. */
  waitFor(match: (m: string) => boolean, timeoutMs?: number): Promise<string>;
}

export const canTestNotify = ['python3', 'systemd-notify'].every((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0);

export async function notifySocket(): Promise<NotifySocket> {
  const path = join(tempDir('ccc-notify-'), 'notify.sock');
  const child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(() => { child.kill('SIGKILL'); });
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`notify socket receiver exited (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = JSON.parse(line) as { listening?: true; message?: string };
      if (parsed.listening) resolve();
      if (parsed.message !== undefined && parsed.message !== 'BARRIER=1') {
        messages.push(parsed.message);
        for (const w of waiters) w();
      }
    });
  });
  const waitFor = (match: (m: string) => boolean, timeoutMs = 15_000) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const found = messages.find(match);
      if (found === undefined) return;
      done();
      resolve(found);
    };
    const timer = setTimeout(() => { done(); reject(new Error(`no matching notify message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });
  return { path, messages, waitFor };
}
