// The gateway's brain, free of I/O: peers' capabilities and load, tasks and their leases.
// Inputs are decoded messages; outputs go through a Sink. Time comes from an injected Clock.
//
// A task is pending (waiting for a peer), then leased to one peer (attempt n). The lease is
// renewed by anything the peer says about the task (accept, tokens, a heartbeat listing it).
// On lease expiry, a reject, a failure, or the peer's loss the task goes back to pending and
// its next assignment is attempt n+1. The first "done" result completes it; later results,
// from any attempt, are duplicates and are dropped. Completed replies are kept (bounded) so
// a client that re-submits gets the same reply again rather than a second run.
//
// Placement: a task goes only to a peer that could run it (the model asked for, a context of
// its steps, the adapter it names among the peer's announced adapters, its task type among the
// peer's announced taskTypes when it is not plain text); among those, the one
// expected to finish it first. A task no online peer could run waits like any other and fails
// after placeTimeoutMs with the reason (e.g. "no peer holds adapter 'x'").
import type { Clock, TimerId } from "./clock.js";
import { TypedEmitter } from "./events.js";
import type { Logger } from "./log.js";
import type { Accept, Cancel, Draft, Heartbeat, Queued, Reject, Reply, Result, Status, StatusOnline, Submit, Task, Tokens } from "./messages.js";

export interface Sink {
  toPeer(peerId: string, m: Draft<Task> | Draft<Cancel>): void;
  toClient(clientId: string, m: Draft<Queued> | Draft<Tokens> | Draft<Reply>): void;
}

export interface SchedulerOptions {
  leaseMs: number;          // a task's lease; renewed by the peer's accept, tokens and heartbeats
  peerTimeoutMs: number;    // a peer silent this long is lost
  maxAttempts: number;      // assignments of one task before it fails
  keepDone: number;         // completed replies kept for deduplication
  rejectBackoffMs: number;  // a peer that rejected a task gets no task for this long
  placeTimeoutMs: number;   // a task that no online peer could run (model, context) fails after this long
  maxPending: number;       // tasks waiting for a peer; a submit beyond this is answered "failed" at once
}

export const DEFAULT_SCHEDULER: SchedulerOptions = {
  leaseMs: 5000, peerTimeoutMs: 5000, maxAttempts: 5, keepDone: 10000, rejectBackoffMs: 500, placeTimeoutMs: 10000, maxPending: 1000,
};

interface PeerState {
  id: string;
  caps: StatusOnline | null;
  online: boolean;
  lastSeen: number;
  reportedQueue: number;
  assigned: Set<string>;
  avoidUntil: number;
}

interface TaskState {
  submit: Submit;
  attempt: number;          // of the current or last assignment
  peer: string | null;
  lease: TimerId | null;
  deadline: TimerId | null;
  deadlineAt: number;       // 0: none
  submittedAt: number;
  reassignments: number;
  holders: Set<string>;     // every peer it was ever assigned to: the only ones whose result counts
  unplaceableSince: number | null; // while pending: since when no online peer could run it
}

export interface SchedulerEvents {
  assigned: (taskId: string, peerId: string, attempt: number) => void;
  reassigned: (taskId: string, fromPeer: string, why: string) => void;
  completed: (reply: Reply) => void;
  peerOnline: (peerId: string) => void;
  peerOffline: (peerId: string, why: string) => void;
}

// Steps assumed for a queued task we know nothing about (another gateway's).
const UNKNOWN_TASK_STEPS = 64;

const holds = (c: StatusOnline, adapter: string): boolean => c.adapters?.includes(adapter) ?? false;
// Every peer runs text tasks; other types only a peer that announces them.
const serves = (c: StatusOnline, s: Submit): boolean => !s.task || s.task === "text" || (c.taskTypes?.includes(s.task) ?? false);

export class Scheduler extends TypedEmitter<SchedulerEvents> {
  private readonly peers = new Map<string, PeerState>();
  private readonly tasks = new Map<string, TaskState>();
  private readonly pending: string[] = [];
  private readonly done = new Map<string, Draft<Reply>>();
  private readonly sweeper: TimerId;
  readonly stats = { submitted: 0, completed: 0, duplicates: 0, reassigned: 0, failed: 0 };

  constructor(private readonly sink: Sink, private readonly clock: Clock, private readonly log: Logger, private readonly o: SchedulerOptions = DEFAULT_SCHEDULER) {
    super();
    this.sweeper = clock.setInterval(() => this.sweep(), Math.max(50, Math.floor(Math.min(o.peerTimeoutMs, o.placeTimeoutMs) / 4)));
  }

  close(): void {
    this.clock.clearInterval(this.sweeper);
    for (const t of this.tasks.values()) this.clearTimers(t);
  }

  get pendingCount(): number { return this.pending.length; }
  get activeCount(): number { return this.tasks.size; }
  peerIds(): string[] { return [...this.peers.values()].filter((p) => p.online).map((p) => p.id); }

  // ---- peers ----

  onStatus(s: Status): void {
    if (!s.online) { this.peerLost(s.id, "announced offline"); return; }
    let p = this.peers.get(s.id);
    if (!p) {
      p = { id: s.id, caps: s, online: false, lastSeen: 0, reportedQueue: 0, assigned: new Set(), avoidUntil: 0 };
      this.peers.set(s.id, p);
    }
    p.caps = s;
    p.lastSeen = this.clock.now();
    p.reportedQueue = s.queue;
    if (!p.online) { p.online = true; this.log.info(`peer ${s.id} online (${s.model.id}, ${s.model.quant}, ctx ${s.model.ctx}, ${s.tokPerSec.toFixed(0)} tok/s, queue ${s.queue}/${s.maxQueue}${s.adapters?.length ? `, adapters ${s.adapters.join(" ")}` : ""}${s.taskTypes?.length ? `, serves ${s.taskTypes.join(" ")}` : ""})`); this.emit("peerOnline", s.id); }
    this.dispatch();
  }

  onHeartbeat(peerId: string, h: Heartbeat): void {
    const p = this.peers.get(peerId);
    if (!p || !p.caps) return; // wait for its status: we need its capabilities
    p.lastSeen = this.clock.now();
    if (!p.online) {
      // Lost for silence (a stalled process, a slow link) but alive: its status still holds.
      p.online = true;
      this.log.info(`peer ${peerId} online again (heartbeat after silence)`);
      this.emit("peerOnline", peerId);
    }
    p.reportedQueue = h.queue;
    for (const id of h.tasks) { const t = this.tasks.get(id); if (t && t.peer === peerId) this.renew(t); }
    this.dispatch();
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const p of this.peers.values()) if (p.online && now - p.lastSeen > this.o.peerTimeoutMs) this.peerLost(p.id, `silent for ${now - p.lastSeen} ms`);
    this.failUnplaceable(now);
    this.dispatch(); // back-offs may have ended
  }

  // A peer that said goodbye (or whose last will came) forgets its capabilities: only a new
  // status brings it back. A silent one keeps them, so that its next heartbeat does.
  private peerLost(id: string, why: string): void {
    const p = this.peers.get(id);
    if (!p) return;
    const wasOnline = p.online;
    p.online = false;
    if (why === "announced offline") p.caps = null;
    for (const taskId of [...p.assigned]) this.requeue(taskId, `peer ${id} ${why}`, false);
    if (wasOnline) { (why === "announced offline" ? this.log.info : this.log.warn)(`peer ${id} offline: ${why}`); this.emit("peerOffline", id, why); }
    this.dispatch();
  }

  // ---- tasks from clients ----

  onSubmit(s: Submit): void {
    const replied = this.done.get(s.taskId);
    if (replied) { this.stats.duplicates++; this.sink.toClient(s.client, replied); return; }
    if (this.tasks.has(s.taskId)) { this.sink.toClient(s.client, { kind: "queued", taskId: s.taskId, position: this.pending.indexOf(s.taskId) + 1 }); return; }
    const now = this.clock.now();
    if (this.pending.length >= this.o.maxPending) {
      this.stats.failed++;
      this.log.warn(`task ${s.taskId} refused: ${this.pending.length} tasks already wait for a peer`);
      this.sink.toClient(s.client, { kind: "reply", taskId: s.taskId, status: "failed", data: "", tokens: 0, elapsedMs: 0, attempts: 0, error: `the gateway's queue is full (${this.o.maxPending} tasks wait for a peer); try again later` });
      return;
    }
    const t: TaskState = { submit: s, attempt: 0, peer: null, lease: null, deadline: null, deadlineAt: 0, submittedAt: now, reassignments: 0, holders: new Set(), unplaceableSince: null };
    if (s.deadlineMs) {
      t.deadlineAt = now + s.deadlineMs;
      t.deadline = this.clock.setTimeout(() => this.finish(s.taskId, { status: "expired", data: "", tokens: 0, elapsedMs: this.clock.now() - now, error: `deadline of ${s.deadlineMs} ms passed` }), s.deadlineMs);
    }
    this.tasks.set(s.taskId, t);
    this.pending.push(s.taskId);
    this.stats.submitted++;
    this.sink.toClient(s.client, { kind: "queued", taskId: s.taskId, position: this.pending.length });
    this.dispatch();
  }

  onClientCancel(c: Cancel): void {
    const t = this.tasks.get(c.taskId);
    if (!t) return;
    this.finish(c.taskId, { status: "cancelled", data: "", tokens: 0, elapsedMs: this.clock.now() - t.submittedAt, error: c.reason });
  }

  // ---- what peers say about tasks ----

  onAccept(peerId: string, a: Accept): void {
    const t = this.current(peerId, a.taskId, a.attempt);
    if (t) this.renew(t);
  }

  onReject(peerId: string, r: Reject): void {
    const t = this.current(peerId, r.taskId, r.attempt);
    if (!t) return;
    this.backOff(peerId, this.o.rejectBackoffMs);
    this.requeue(r.taskId, `peer ${peerId} rejected it: ${r.reason}`, true);
    this.dispatch();
  }

  onTokens(peerId: string, m: Tokens): void {
    const t = this.current(peerId, m.taskId, m.attempt);
    if (!t) return;
    this.renew(t);
    this.sink.toClient(t.submit.client, { kind: "tokens", taskId: m.taskId, attempt: m.attempt, offset: m.offset, data: m.data });
  }

  onResult(peerId: string, r: Result): void {
    if (this.done.has(r.taskId)) { this.stats.duplicates++; this.log.debug(`duplicate result for ${r.taskId} from ${peerId} (attempt ${r.attempt}) dropped`); return; }
    const t = this.tasks.get(r.taskId);
    if (!t || !t.holders.has(peerId)) return;
    if (r.status === "done") {
      // Any attempt's output is the same text (deterministic engines), so the first one wins.
      this.finish(r.taskId, { status: "done", data: r.data, tokens: r.tokens, elapsedMs: r.elapsedMs, peer: peerId }, peerId);
      return;
    }
    if (t.peer !== peerId || t.attempt !== r.attempt) return; // a stale attempt's failure: irrelevant
    if (r.status === "expired") { this.finish(r.taskId, { status: "expired", data: r.data, tokens: r.tokens, elapsedMs: r.elapsedMs, peer: peerId, error: r.error }); return; }
    this.requeue(r.taskId, `peer ${peerId} reported ${r.status}${r.error ? `: ${r.error}` : ""}`, true);
    this.dispatch();
  }

  // ---- internals ----

  private backOff(peerId: string, ms: number): void {
    const p = this.peers.get(peerId);
    if (p) p.avoidUntil = Math.max(p.avoidUntil, this.clock.now() + ms);
  }

  // Why none of the online peers could ever run this task, whatever their load; null when one could.
  private unplaceable(s: Submit, online: PeerState[]): string | null {
    if (online.length === 0) return "no peer is online";
    const serving = s.model ? online.filter((p) => p.caps!.model.id === s.model) : online;
    if (serving.length === 0) return `no online peer serves model '${s.model}'`;
    const typed = serving.filter((p) => serves(p.caps!, s));
    if (typed.length === 0) return `no peer serves ${s.task} tasks${s.model ? ` with model '${s.model}'` : ""}`;
    const holding = s.adapter ? typed.filter((p) => holds(p.caps!, s.adapter!)) : typed;
    if (holding.length === 0) return `no peer holds adapter '${s.adapter}'${s.task && s.task !== "text" ? ` and serves ${s.task} tasks` : ""}${s.model ? ` for model '${s.model}'` : ""}`;
    const ctx = Math.max(...holding.map((p) => p.caps!.model.ctx));
    return s.steps > ctx ? `${s.steps} steps exceed the context of every peer that could run it (largest ${ctx})` : null;
  }

  // Pending tasks that no online peer could run for placeTimeoutMs fail with the reason, rather
  // than wait for a client that may have given up long ago.
  private failUnplaceable(now: number): void {
    if (this.pending.length === 0) return;
    const online = [...this.peers.values()].filter((p) => p.online && p.caps);
    for (const id of [...this.pending]) {
      const t = this.tasks.get(id);
      if (!t) continue;
      const why = this.unplaceable(t.submit, online);
      if (!why) { t.unplaceableSince = null; continue; }
      if (t.unplaceableSince === null) t.unplaceableSince = now;
      else if (now - t.unplaceableSince >= this.o.placeTimeoutMs) {
        this.log.warn(`task ${id} failed: no peer can run it: ${why}`);
        this.finish(id, { status: "failed", data: "", tokens: 0, elapsedMs: now - t.submittedAt, error: `no peer can run it: ${why}` });
      }
    }
  }

  private current(peerId: string, taskId: string, attempt: number): TaskState | null {
    const t = this.tasks.get(taskId);
    return t && t.peer === peerId && t.attempt === attempt ? t : null;
  }

  private renew(t: TaskState): void {
    if (t.lease !== null) this.clock.clearTimeout(t.lease);
    const id = t.submit.taskId, attempt = t.attempt;
    t.lease = this.clock.setTimeout(() => {
      const cur = this.tasks.get(id);
      if (cur && cur.attempt === attempt && cur.peer) {
        // The peer may be stuck: no task for it for one lease, so the next attempt goes elsewhere.
        this.backOff(cur.peer, this.o.leaseMs);
        this.requeue(id, `lease of ${this.o.leaseMs} ms expired on peer ${cur.peer}`, true);
        this.dispatch();
      }
    }, this.o.leaseMs);
  }

  // Takes a task back from its peer (telling the peer to drop it when asked) and queues it first.
  private requeue(taskId: string, why: string, cancelOnPeer: boolean): void {
    const t = this.tasks.get(taskId);
    if (!t || !t.peer) return;
    const from = t.peer;
    this.peers.get(from)?.assigned.delete(taskId);
    if (cancelOnPeer) this.sink.toPeer(from, { kind: "cancel", taskId, reason: why });
    if (t.lease !== null) { this.clock.clearTimeout(t.lease); t.lease = null; }
    t.peer = null;
    t.reassignments++;
    this.stats.reassigned++;
    this.log.warn(`task ${taskId} attempt ${t.attempt}: ${why}; requeued`);
    this.emit("reassigned", taskId, from, why);
    if (t.attempt >= this.o.maxAttempts) {
      this.finish(taskId, { status: "failed", data: "", tokens: 0, elapsedMs: this.clock.now() - t.submittedAt, error: `gave up after ${t.attempt} attempts (${why})` });
      return;
    }
    this.pending.unshift(taskId);
  }

  private finish(taskId: string, r: Omit<Draft<Reply>, "kind" | "taskId" | "attempts">, winner?: string): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    this.clearTimers(t);
    if (t.peer) {
      this.peers.get(t.peer)?.assigned.delete(taskId);
      if (t.peer !== winner) this.sink.toPeer(t.peer, { kind: "cancel", taskId, reason: `task ${r.status}` });
    }
    const i = this.pending.indexOf(taskId);
    if (i >= 0) this.pending.splice(i, 1);
    this.tasks.delete(taskId);
    const reply: Draft<Reply> = { kind: "reply", taskId, attempts: t.attempt, ...r };
    const full = { v: 1, ...reply } as Reply;
    this.done.set(taskId, reply);
    if (this.done.size > this.o.keepDone) this.done.delete(this.done.keys().next().value as string);
    if (r.status === "done") this.stats.completed++; else this.stats.failed++;
    this.sink.toClient(t.submit.client, reply);
    this.emit("completed", full);
    this.dispatch();
  }

  private clearTimers(t: TaskState): void {
    if (t.lease !== null) { this.clock.clearTimeout(t.lease); t.lease = null; }
    if (t.deadline !== null) { this.clock.clearTimeout(t.deadline); t.deadline = null; }
  }

  private capable(p: PeerState, s: Submit, now: number): boolean {
    const c = p.caps;
    if (!p.online || !c || now < p.avoidUntil) return false;
    if (p.assigned.size >= c.maxQueue) return false;
    if (s.model && s.model !== c.model.id) return false;
    if (s.adapter && !holds(c, s.adapter)) return false;
    if (!serves(c, s)) return false;
    return s.steps <= c.model.ctx;
  }

  // Expected time until this peer would finish one more task of `steps` positions.
  private expectedMs(p: PeerState, steps: number): number {
    const c = p.caps!;
    let work = steps || c.model.ctx;
    for (const id of p.assigned) { const t = this.tasks.get(id); work += t ? t.submit.steps || c.model.ctx : 0; }
    work += Math.max(0, p.reportedQueue - p.assigned.size) * UNKNOWN_TASK_STEPS;
    return (work / Math.max(c.tokPerSec, 1e-3)) * 1000;
  }

  private dispatch(): void {
    if (this.pending.length === 0) return;
    const now = this.clock.now();
    for (let i = 0; i < this.pending.length;) {
      const id = this.pending[i];
      const t = this.tasks.get(id)!;
      let best: PeerState | null = null, bestMs = Infinity;
      for (const p of this.peers.values()) {
        if (!this.capable(p, t.submit, now)) continue;
        const ms = this.expectedMs(p, t.submit.steps);
        if (ms < bestMs) { best = p; bestMs = ms; }
      }
      if (!best) { i++; continue; }
      this.pending.splice(i, 1);
      this.assign(t, best, now);
    }
  }

  private assign(t: TaskState, p: PeerState, now: number): void {
    t.attempt++;
    t.peer = p.id;
    t.holders.add(p.id);
    p.assigned.add(t.submit.taskId);
    const s = t.submit;
    const deadlineMs = t.deadlineAt ? Math.max(1, t.deadlineAt - now) : 0;
    this.sink.toPeer(p.id, {
      kind: "task", taskId: s.taskId, attempt: t.attempt, leaseMs: this.o.leaseMs, deadlineMs,
      prompt: s.prompt, steps: s.steps, temperature: s.temperature, topp: s.topp, seed: s.seed,
      ...(s.adapter ? { adapter: s.adapter, ...(s.scale !== undefined ? { scale: s.scale } : {}) } : {}),
      ...(s.task ? { task: s.task } : {}),
    });
    this.renew(t);
    this.log.debug(`task ${s.taskId} attempt ${t.attempt} → peer ${p.id}`);
    this.emit("assigned", s.taskId, p.id, t.attempt);
  }
}
