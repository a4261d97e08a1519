// The coordinator's side of federated rounds over the fleet (docs/protocol.md §9), free of I/O:
// which trainers are online, the round's announcement, the global adapter served chunk by chunk,
// updates put back together from their parts and handed to the pure Coordinator, and one verdict
// per client. Inputs are decoded messages; outputs go through a RoundSink; time comes from a Clock.
//
// Lifecycle: trainers announce themselves (a retained `trainer` message, with a last will). When
// no round is open, the driver starts one as soon as `clientsPerRound` eligible trainers are
// online (same base model, the round's method), or when at least one is and `gatherMs` passed:
// Coordinator.startRound samples the clients, and the retained `round` message announces it
// (round id, the global's size and CRC-32, a deadline, the recipe). Sampled trainers fetch the
// global (`fetch` → `chunk`s, from any index: resumable), train, and upload their update in
// parts. A complete, intact update goes to Coordinator.submit, whose refusals (late, duplicate,
// wrong shape, non-finite, …) become the client's `ack`; pieces that cannot make an update
// (a bad CRC, parts that disagree, a size no update of this round has) are refused here, before
// anything is buffered. The round closes when Coordinator.due() says so (every sampled client
// answered, or the deadline): the aggregate moves the global, `roundClosed` reports it, and the
// CLI saves the adapter and state before the next round starts. A trainer that vanished costs
// the round its own update only. A re-sent update gets its first verdict again (never a second
// submit), so a lost ack or a broker restart cannot count an update twice.
import type { Clock, TimerId } from "../fleet/clock.js";
import { TypedEmitter } from "../fleet/events.js";
import type { Logger } from "../fleet/log.js";
import { b64, type Ack, type Chunk, type Draft, type Fetch, type FedRefusal, type Recipe, type Round, type RoundOpen, type Trainer, type TrainerOnline, type Update } from "../fleet/messages.js";
import { crc32 } from "../format/crc32.js";
import { Assembler, chunkAt, ChunkError } from "./chunks.js";
import type { Coordinator, Refusal, RoundResult } from "./coordinator.js";
import type { GlobalModel } from "./global-model.js";
import type { ScalarUpdate } from "./seed-scalar.js";

export interface RoundSink {
  announce(m: Draft<Round>): void;                           // retained, on fed/round
  toTrainer(id: string, m: Draft<Chunk> | Draft<Ack>): void; // fedto/<id>/<kind>
}

export interface RoundDriverOptions {
  id: string;               // the coordinator's name in announcements
  nonce: string;            // this process's (announcements carry it: trainers re-send to a restarted coordinator)
  rounds: number;           // stop after this many rounds closed
  clientsPerRound: number;  // start a round as soon as this many trainers are eligible
  roundMs: number;          // a round's deadline after its announcement
  gatherMs: number;         // or after this long with at least one
  base: number;             // the base model's checksum: only trainers on it are eligible
  recipe: Recipe;
  tickMs?: number;
}

export interface FedRoundResult extends RoundResult {
  bytesDown: number;        // global-adapter bytes served this round (all trainers)
  bytesUp: number;          // update bytes received this round
  clients: string[];        // sampled
}

export interface RoundDriverEvents {
  started: (m: Draft<RoundOpen>) => void;
  closed: (r: FedRoundResult) => void;
  refused: (r: Refusal) => void;
  finished: (why: string) => void;
}

interface Upload { asm: Assembler; examples: number; loss?: number }

interface OpenRound {
  msg: Draft<RoundOpen>;
  global: Uint8Array;
  uploads: Map<string, Upload>;
  verdicts: Map<string, Draft<Ack>>;
  lastAckAt: Map<string, number>;   // re-sent verdicts and "incomplete" answers: at most one a second per client
  scalars: ScalarUpdate[];
  refused: Refusal[];               // the driver's own refusals (before the Coordinator sees anything)
  bytesDown: number;
  bytesUp: number;
}

const ACK_REPEAT_MS = 1000;
// The wire's refusal reasons are exactly the Coordinator's (a compile error if one side grows).
const sameReasons: [FedRefusal, Refusal["reason"]] extends [Refusal["reason"], FedRefusal] ? true : never = true;
void sameReasons;

export class RoundDriver extends TypedEmitter<RoundDriverEvents> {
  private readonly trainers = new Map<string, TrainerOnline>();
  private open: OpenRound | null = null;
  private last: { round: number; verdicts: Map<string, Draft<Ack>>; lastAckAt: Map<string, number> } | null = null; // the round closed last
  private idleSince: number;
  private finishedWhy: string | null = null;
  private timer: TimerId | null = null;

  constructor(private readonly c: Coordinator, private readonly model: GlobalModel, private readonly sink: RoundSink,
    private readonly clock: Clock, private readonly log: Logger, private readonly o: RoundDriverOptions) {
    super();
    this.idleSince = clock.now();
  }

  // Rounds start from here on (listeners are attached; trainers already seen count).
  start(): void {
    if (this.timer !== null || this.finishedWhy) return;
    this.idleSince = this.clock.now();
    this.timer = this.clock.setInterval(() => this.tick(), this.o.tickMs ?? 100);
    this.tick();
  }

  get finished(): string | null { return this.finishedWhy; }
  get roundOpen(): number | null { return this.open?.msg.round ?? null; }
  eligible(): string[] {
    return [...this.trainers.values()].filter((t) => t.base === this.o.base && t.methods.includes(this.o.recipe.method)).map((t) => t.id).sort();
  }

  close(): void { if (this.timer !== null) this.clock.clearInterval(this.timer); this.timer = null; }

  // ---- trainers ----

  onTrainer(t: Trainer): void {
    if (!t.online) { if (this.trainers.delete(t.id)) this.log.info(`trainer ${t.id} offline`); return; }
    if (!this.trainers.has(t.id)) this.log.info(`trainer ${t.id} online (${t.methods.join(", ")}${t.base !== this.o.base ? `; another base model ${t.base.toString(16)}: not eligible` : ""})`);
    this.trainers.set(t.id, t);
    this.tick();
  }

  // ---- the global adapter, chunk by chunk ----

  onFetch(id: string, f: Fetch): void {
    const open = this.open;
    if (!open || f.round !== open.msg.round) { this.log.debug(`fetch of round ${f.round} from ${id}: not the open round`); return; }
    if (!open.msg.clients.includes(id)) { this.log.debug(`fetch from ${id}: not sampled for round ${f.round}`); return; }
    let first: ReturnType<typeof chunkAt>;
    try { first = chunkAt(open.global, 0, f.chunkBytes); } catch (e) { this.log.warn(`fetch from ${id}: ${(e as Error).message}`); return; }
    for (let i = f.from; i < Math.min(first.chunks, f.from + f.count); i++) {
      const ch = chunkAt(open.global, i, f.chunkBytes);
      open.bytesDown += ch.data.length;
      this.sink.toTrainer(id, { kind: "chunk", round: f.round, index: i, chunks: ch.chunks, chunkBytes: f.chunkBytes, bytes: open.global.length, crc32: ch.crc32, data: b64.from(ch.data) });
    }
  }

  // ---- updates ----

  onUpdate(id: string, u: Update): void {
    const open = this.open, now = this.clock.now();
    const kept = this.last?.round === u.round ? this.last.verdicts.get(id) : undefined;
    if (kept && (!open || u.round !== open.msg.round)) {
      // Its verdict was sent as the round closed, but the update came again (the ack was slow):
      // the same verdict again, not a refusal as late.
      const at = this.last!.lastAckAt.get(id) ?? -Infinity;
      if (now - at >= ACK_REPEAT_MS) { this.last!.lastAckAt.set(id, now); this.sink.toTrainer(id, kept); }
      return;
    }
    if (!open || u.round !== open.msg.round || !open.msg.clients.includes(id)) {
      // Late, early or unsampled: the Coordinator words the refusal (its checks come first).
      // Its other parts (or a re-send) within a second get no second refusal.
      if (!this.ackDue(open, id, now, `${u.round}`)) return;
      const r = this.c.submit({ client: id, round: u.round, examples: u.examples, delta: new Float32Array(0) });
      if (r) this.sink.toTrainer(id, this.ackOf(r));
      return;
    }
    const verdict = open.verdicts.get(id);
    if (verdict) { if (this.ackDue(open, id, now)) this.sink.toTrainer(id, verdict); return; }
    const refuse = (reason: FedRefusal, detail: string) => this.verdict(open, id, { client: id, round: u.round, reason, detail });
    if (u.method !== this.o.recipe.method) return refuse("method", `a ${u.method} update in a ${this.o.recipe.method} round`);
    let up = open.uploads.get(id);
    if (!up) {
      const wrong = this.model.expectedBytes(u.bytes);
      if (wrong) return refuse("shape", wrong);
      try { up = { asm: new Assembler(u.parts, u.bytes, u.partBytes), examples: u.examples, loss: u.loss }; } catch (e) { return refuse("malformed", (e as ChunkError).message); }
      open.uploads.set(id, up);
    }
    if (u.examples !== up.examples) return refuse("malformed", `part ${u.part} says ${u.examples} examples, the first part ${up.examples}`);
    const data = b64.to(u.data);
    const repeat = up.asm.has(u.part);
    const problem = up.asm.add(u.part, u.parts, u.bytes, data, u.crc32);
    if (problem) return refuse(crc32(data) !== u.crc32 ? "checksum" : "malformed", problem);
    if (!repeat) open.bytesUp += data.length;
    if (!up.asm.complete) {
      // A part it already sent: the trainer is re-sending after a lost answer; tell it what is missing.
      if (repeat && this.ackDue(open, id, now)) this.sink.toTrainer(id, { kind: "ack", round: u.round, status: "incomplete", missing: up.asm.missing() });
      return;
    }
    open.uploads.delete(id);
    const d = this.model.decode(up.asm.result());
    if (!d.ok) return refuse(d.reason, d.detail);
    const r = this.c.submit({ client: id, round: u.round, examples: up.examples, delta: d.delta, loss: up.loss });
    if (r) { open.verdicts.set(id, this.ackOf(r)); this.sink.toTrainer(id, this.ackOf(r)); open.lastAckAt.set(id, now); return; }
    if (d.scalar) open.scalars.push({ client: id, examples: up.examples, index: d.scalar.index, grad: d.scalar.grad, loss: up.loss ?? NaN });
    const ack: Draft<Ack> = { kind: "ack", round: u.round, status: "accepted" };
    open.verdicts.set(id, ack);
    open.lastAckAt.set(id, now);
    this.sink.toTrainer(id, ack);
    this.tick(); // every sampled client may have answered
  }

  private ackOf(r: Refusal): Draft<Ack> { return { kind: "ack", round: r.round, status: "refused", reason: r.reason, detail: r.detail.slice(0, 256) }; }

  private verdict(open: OpenRound, id: string, r: Refusal): void {
    open.uploads.delete(id);
    open.refused.push(r);
    this.emit("refused", r);
    open.verdicts.set(id, this.ackOf(r));
    open.lastAckAt.set(id, this.clock.now());
    this.sink.toTrainer(id, this.ackOf(r));
  }

  private ackDue(open: OpenRound | null, id: string, now: number, key = ""): boolean {
    if (!open) return true;
    const k = `${id}/${key}`, last = open.lastAckAt.get(k) ?? -Infinity;
    if (now - last < ACK_REPEAT_MS) return false;
    open.lastAckAt.set(k, now);
    return true;
  }

  // ---- rounds ----

  // Announces the open round again (after a reconnection: the broker may have lost the retained one).
  reannounce(): void {
    const open = this.open;
    if (!open) return;
    const left = Math.max(1, open.msg.ts + open.msg.deadlineMs - this.clock.now());
    this.sink.announce({ ...open.msg, ts: this.clock.now(), deadlineMs: left });
  }

  tick(): void {
    if (this.finishedWhy || this.timer === null) return;
    const now = this.clock.now();
    if (this.open) { if (this.c.due(now)) this.closeRound(); return; }
    if (this.c.round >= this.o.rounds) return this.finish(`${this.o.rounds} rounds done`);
    if (!this.c.budgetAllowsRound()) return this.finish(`another round would take ε past the budget (ε = ${this.c.epsilon.toFixed(3)})`);
    const eligible = this.eligible();
    if (eligible.length >= this.o.clientsPerRound || (eligible.length > 0 && now - this.idleSince >= this.o.gatherMs)) this.startRound(eligible, now);
  }

  private startRound(eligible: string[], now: number): void {
    const ann = this.c.startRound(eligible, now);
    if (!ann) return this.finish("the privacy budget is spent");
    const global = this.model.bytes(this.c).slice();
    const msg: Draft<RoundOpen> = {
      kind: "round", coordinator: this.o.id, open: true, round: ann.round, ts: now, nonce: this.o.nonce, deadlineMs: this.o.roundMs, clients: ann.clients,
      global: { bytes: global.length, crc32: crc32(global), base: this.o.base }, recipe: this.o.recipe,
    };
    this.open = { msg, global, uploads: new Map(), verdicts: new Map(), lastAckAt: new Map(), scalars: [], refused: [], bytesDown: 0, bytesUp: 0 };
    this.sink.announce(msg);
    this.emit("started", msg);
  }

  private closeRound(): void {
    const open = this.open!;
    const r = this.c.close();
    this.model.afterClose(open.scalars);
    this.last = { round: r.round, verdicts: open.verdicts, lastAckAt: open.lastAckAt };
    this.open = null;
    this.idleSince = this.clock.now();
    this.sink.announce({ kind: "round", coordinator: this.o.id, open: false, round: r.round });
    this.emit("closed", { ...r, refused: [...open.refused, ...r.refused], bytesDown: open.bytesDown, bytesUp: open.bytesUp, clients: open.msg.clients });
  }

  private finish(why: string): void {
    this.finishedWhy = why;
    this.close();
    this.emit("finished", why);
  }
}
