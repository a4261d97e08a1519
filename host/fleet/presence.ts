// The owner's guard over a retained presence topic: the gateway's here (a peer's is guarded by
// its agent in the module, assembly/agent/peer.ts, by the same rule).
//
//   observe(what is on the topic) ──► ours (online, our nonce): nothing
//                                 ──► anything else (garbage, offline, an old session's, another
//                                     process's): restore ours at once, at most once a second
//                                     (later ones wait for the second to pass), with a log line
//                                 ──► another process online with our id that connected first,
//                                     seen twice: stop (once could be a stale retained message)
//
// No I/O: restore and stop are the owner's; the clock is injected.
import type { Clock, TimerId } from "./clock.js";

export const RESTORE_INTERVAL_MS = 1000;

export interface PresenceSeen { online: boolean; nonce?: string; since?: number }

export interface PresenceActions {
  restore: (why: string) => void;
  stop: (why: string) => void;
}

export class PresenceGuard {
  private restoreAt = 0;
  private pending: TimerId | null = null;
  private earlierSeen = 0;
  private closed = false;

  constructor(readonly nonce: string, readonly since: number, private readonly clock: Clock, private readonly act: PresenceActions) {}

  // m: the presence message on our topic, or null when it was unreadable (not JSON, schema).
  observe(m: PresenceSeen | null): void {
    if (this.closed) return;
    if (m?.online && m.nonce === this.nonce) return;
    if (m?.online && m.nonce !== undefined && this.isEarlier(m) && ++this.earlierSeen >= 2) {
      this.close();
      this.act.stop("another process with this id connected first and is online");
      return;
    }
    const why = m === null ? "an unreadable message" : !m.online ? "an offline presence" : "another process's presence";
    const now = this.clock.now();
    if (now >= this.restoreAt) { this.restoreAt = now + RESTORE_INTERVAL_MS; this.act.restore(`${why} on our presence topic; restoring ours`); return; }
    this.pending ??= this.clock.setTimeout(() => {
      this.pending = null;
      this.restoreAt = this.clock.now() + RESTORE_INTERVAL_MS;
      this.act.restore(`${why} on our presence topic; restored ours a second later`);
    }, this.restoreAt - now);
  }

  close(): void {
    this.closed = true;
    if (this.pending !== null) this.clock.clearTimeout(this.pending);
    this.pending = null;
  }

  // The other process connected first (ties broken by the nonces, so exactly one of two stops).
  private isEarlier(m: PresenceSeen): boolean {
    const theirs = m.since ?? 0;
    return theirs < this.since || (theirs === this.since && (m.nonce ?? "") < this.nonce);
  }
}
