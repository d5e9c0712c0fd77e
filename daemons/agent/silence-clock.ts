/**
 * How long the coordinator has been silent, as the agent's heartbeat tick sees it. The time a tick
 * ran late is time this process was paused or blocked (SIGSTOP, a suspended VM, a busy event loop):
 * that silence is the agent's own, not the coordinator's, and the coordinator's frames may be
 * waiting unread in the socket (timers run before I/O), so it does not count.
 */
export class SilenceClock {
  /** When the coordinator last said anything (a frame or a pong). */
  private lastHeard = 0;
  /** When the last heartbeat tick ran (or the welcome came), to tell how late the next one is. */
  private lastBeat = 0;

  heard(): void {
    this.lastHeard = Date.now();
  }

  /** The welcome came: heartbeat ticks start now. */
  restart(): void {
    this.lastBeat = Date.now();
  }

  /** Called on each heartbeat tick: the coordinator's silence in ms, the tick's own lateness left out. */
  tick(heartbeatMs: number): number {
    const now = Date.now();
    const late = Math.max(0, now - this.lastBeat - heartbeatMs);
    this.lastBeat = now;
    return now - this.lastHeard - late;
  }
}
