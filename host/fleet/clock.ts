// Time behind an interface so that tests drive leases, heartbeats and deadlines with fake time.
export type TimerId = { readonly __timer: unique symbol } | number | object;

export interface Clock {
  now(): number; // milliseconds
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  setInterval(fn: () => void, ms: number): TimerId;
  clearInterval(id: TimerId): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); t.unref?.(); return t; },
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  setInterval: (fn, ms) => { const t = setInterval(fn, ms); t.unref?.(); return t; },
  clearInterval: (id) => clearInterval(id as NodeJS.Timeout),
};

interface FakeTimer { id: number; at: number; every: number; fn: () => void }

// Time moves only when advance() is called; due timers fire in time order.
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, FakeTimer>();
  constructor(start = 1_000_000) { this.t = start; }
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): TimerId { return this.add(fn, ms, 0); }
  setInterval(fn: () => void, ms: number): TimerId { return this.add(fn, ms, Math.max(1, ms)); }
  clearTimeout(id: TimerId): void { this.timers.delete(id as number); }
  clearInterval(id: TimerId): void { this.timers.delete(id as number); }
  get pending(): number { return this.timers.size; }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const x of this.timers.values()) if (x.at <= end && (!next || x.at < next.at)) next = x;
      if (!next) break;
      this.t = next.at;
      if (next.every) next.at += next.every; else this.timers.delete(next.id);
      next.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number): number {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), every, fn });
    return id;
  }
}
