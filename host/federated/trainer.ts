// A Node peer's part in federated rounds (`edgellm serve --train-data FILE`, docs/protocol.md §9):
// its own MQTT connection (its last will says it stopped training), the coordinator's retained
// announcement read, and for each round it is sampled in: fetch the global adapter chunk by
// chunk, check it, train on its own examples (LocalTrainer), upload the update in parts and
// wait for the verdict. Its examples never leave: only the update does.
//
// A round's job moves fetch → train → upload → done. Everything is retried from where it
// stopped: a fetch that stalls (a lost chunk, a broker restart) asks again from the first chunk
// it lacks; an upload with no verdict after `ackWaitMs` is sent again (the coordinator answers
// with the parts it lacks, or the verdict it gave); a re-announced round with the same global
// continues the same job. An announcement of another round, or a closed one, drops the job.
import { randomBytes } from "node:crypto";
import { crc32 } from "../format/crc32.js";
import { TypedEmitter } from "../fleet/events.js";
import type { Logger } from "../fleet/log.js";
import { b64, type Ack, type Chunk, type Message, type RoundOpen } from "../fleet/messages.js";
import { MAX_FED_FETCH, MAX_FED_CHUNK_BYTES } from "../fleet/schemas.js";
import { checkName, topics, type Route } from "../fleet/topics.js";
import { Transport, type TransportOptions } from "../fleet/transport.js";
import { Assembler, chunkAt } from "./chunks.js";
import type { LocalResult, LocalWork } from "./local-trainer.js";

export interface TrainerOptions {
  broker: string;
  fleet: string;
  id: string;
  local: LocalWork;         // the round's compute (a worker thread in `serve`; closed with the trainer)
  chunkBytes?: number;     // what it asks for and uploads in (default the protocol's largest)
  fetchRetryMs?: number;   // a fetch with no chunk for this long asks again from the first missing one (default 5 s)
  ackWaitMs?: number;      // an upload with no verdict for this long is sent again (default 10 s: the coordinator may be scoring a round)
  username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs?: number;
  tls?: Pick<TransportOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
  log: Logger;
}

export interface TrainerEvents {
  trained: (round: number, r: LocalResult) => void;
  verdict: (round: number, ack: Ack) => void;
}

interface Job {
  msg: RoundOpen;
  phase: "fetch" | "train" | "upload" | "done";
  asm: Assembler;
  lastChunkAt: number;
  windowEnd: number;       // the chunk after the last one the current fetch asked for
  result?: LocalResult;
  lastSendAt: number;
}

export class FedTrainer extends TypedEmitter<TrainerEvents> {
  private job: Job | null = null;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  readonly stats = { rounds: 0, accepted: 0, refused: 0, bytesDown: 0, bytesUp: 0 };
  private readonly chunkBytes: number;

  private constructor(private readonly o: TrainerOptions, private readonly t: Transport) {
    super();
    this.chunkBytes = o.chunkBytes ?? MAX_FED_CHUNK_BYTES;
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
  }

  static async start(o: TrainerOptions): Promise<FedTrainer> {
    checkName("peer id", o.id);
    const nonce = randomBytes(8).toString("hex");
    const presence = topics.fedPeer(o.fleet, o.id, "trainer");
    const t = await Transport.connect({
      broker: o.broker, clientId: `edgellm-trainer-${o.id}-${nonce.slice(0, 8)}`, username: o.username, password: o.password,
      protocolVersion: o.protocolVersion, connectTimeoutMs: o.connectTimeoutMs, log: o.log, ...o.tls,
      will: { topic: presence, message: { kind: "trainer", id: o.id, online: false }, retain: true },
    });
    const f = new FedTrainer(o, t);
    const announce = () => void t.publish(presence, { kind: "trainer", id: o.id, online: true, methods: o.local.methods, base: o.local.base, maxChunk: f.chunkBytes, nonce }, 1, true).catch(() => undefined);
    t.on("message", (route, msg) => f.onMessage(route, msg));
    t.on("connect", () => { announce(); f.resume(); });
    await t.subscribe([topics.fed(o.fleet, "round"), topics.trainerInbox(o.fleet, o.id)]);
    announce();
    o.log.info(`trainer ${o.id}: ${o.local.examples} examples, base ${o.local.base.toString(16)}`);
    return f;
  }

  private onMessage(route: Route, m: Message): void {
    if (this.closed) return;
    if (route.dir === "fed" && m.kind === "round") {
      if (m.open) this.onRound(m); else if (this.job && (m.round === undefined || m.round >= this.job.msg.round)) this.drop(m.round === undefined ? "the coordinator went away" : `round ${m.round} closed`);
      return;
    }
    if (route.dir === "fedto" && route.id === this.o.id) {
      if (m.kind === "chunk") return this.onChunk(m);
      if (m.kind === "ack") return this.onAck(m);
    }
  }

  private onRound(m: RoundOpen): void {
    const j = this.job;
    if (j && j.msg.round === m.round && j.msg.global.crc32 === m.global.crc32) {
      // The same round again. From another coordinator process (a restart: it has none of this
      // round's updates), a verdict already heard no longer holds: the update goes again.
      if (j.phase === "done" && j.result && m.nonce !== j.msg.nonce) j.phase = "upload";
      j.msg = m;
      this.resume();
      return;
    }
    if (j) this.drop(`round ${m.round} announced`);
    if (!m.clients.includes(this.o.id)) return;
    if (m.global.base !== this.o.local.base) { this.o.log.warn(`round ${m.round}: the global adapter is for another base model; not taking part`); return; }
    if (!this.o.local.methods.includes(m.recipe.method)) { this.o.log.warn(`round ${m.round}: method ${m.recipe.method} is not one this trainer runs`); return; }
    let asm: Assembler;
    try { asm = new Assembler(Math.max(1, Math.ceil(m.global.bytes / this.chunkBytes)), m.global.bytes, this.chunkBytes); } catch (e) { this.o.log.warn(`round ${m.round}: ${(e as Error).message}`); return; }
    this.job = { msg: m, phase: "fetch", asm, lastChunkAt: 0, windowEnd: 0, lastSendAt: 0 };
    this.o.log.info(`round ${m.round}: sampled; fetching the global adapter (${m.global.bytes} bytes)`);
    this.fetch();
  }

  private drop(why: string): void {
    const j = this.job;
    if (j && j.phase !== "done") this.o.log.info(`round ${j.msg.round}: dropped (${why})`);
    this.job = null;
  }

  private fetch(): void {
    const j = this.job;
    if (!j || j.phase !== "fetch") return;
    const from = j.asm.firstMissing(), count = Math.min(MAX_FED_FETCH, j.asm.parts - from);
    j.lastChunkAt = Date.now();
    j.windowEnd = from + count;
    void this.t.publish(topics.fedPeer(this.o.fleet, this.o.id, "fetch"), { kind: "fetch", round: j.msg.round, from, count, chunkBytes: this.chunkBytes }, 1).catch(() => undefined);
  }

  private onChunk(c: Chunk): void {
    const j = this.job;
    if (!j || j.phase !== "fetch" || c.round !== j.msg.round) return;
    j.lastChunkAt = Date.now();
    if (c.bytes !== j.msg.global.bytes || c.chunkBytes !== this.chunkBytes) { this.o.log.warn(`round ${c.round}: chunk ${c.index} describes another object (${c.bytes} bytes in ${c.chunkBytes})`); return; }
    const data = b64.to(c.data);
    const problem = j.asm.add(c.index, c.chunks, c.bytes, data, c.crc32);
    if (problem) { this.o.log.warn(`round ${c.round}: ${problem}`); return; }
    this.stats.bytesDown += data.length;
    if (!j.asm.complete) { if (j.asm.firstMissing() >= j.windowEnd) this.fetch(); return; } // the window arrived: the next one
    const global = j.asm.result();
    if (crc32(global) !== j.msg.global.crc32) {
      this.o.log.warn(`round ${c.round}: the assembled global adapter's CRC-32 differs from the announced one; fetching again`);
      j.asm = new Assembler(j.asm.parts, j.asm.bytes, this.chunkBytes);
      this.fetch();
      return;
    }
    j.phase = "train";
    void this.train(j, global);
  }

  private async train(j: Job, global: Uint8Array): Promise<void> {
    if (this.job !== j || this.closed) return;
    let r: LocalResult;
    try {
      r = await this.o.local.train(this.o.id, j.msg.round, j.msg.recipe, global);
    } catch (e) {
      this.o.log.error(`round ${j.msg.round}: cannot train: ${(e as Error).message}`);
      j.phase = "done";
      return;
    }
    if (this.closed) return;
    this.stats.rounds++;
    this.o.log.info(`round ${j.msg.round}: trained ${j.msg.recipe.steps} ${j.msg.recipe.method} steps in ${r.ms.toFixed(0)} ms, loss ${r.loss.toFixed(4)}; uploading ${r.bytes.length} bytes`);
    this.emit("trained", j.msg.round, r);
    if (this.job !== j) return; // the round changed while it trained
    j.result = r;
    j.phase = "upload";
    this.upload(j);
  }

  private upload(j: Job, only?: number[]): void {
    const r = j.result!;
    const parts = Math.max(1, Math.ceil(r.bytes.length / this.chunkBytes));
    j.lastSendAt = Date.now();
    for (const p of only ?? Array.from({ length: parts }, (_, i) => i)) {
      if (p >= parts) continue;
      const ch = chunkAt(r.bytes, p, this.chunkBytes);
      this.stats.bytesUp += ch.data.length;
      void this.t.publish(topics.fedPeer(this.o.fleet, this.o.id, "update"), {
        kind: "update", round: j.msg.round, method: r.method, examples: r.examples, ...(Number.isFinite(r.loss) ? { loss: r.loss } : {}),
        part: p, parts, partBytes: this.chunkBytes, bytes: r.bytes.length, crc32: ch.crc32, data: b64.from(ch.data),
      }, 1).catch(() => undefined);
    }
  }

  private onAck(a: Ack): void {
    const j = this.job;
    if (!j || a.round !== j.msg.round || j.phase !== "upload") return;
    if (a.status === "incomplete") { this.upload(j, a.missing); return; }
    j.phase = "done";
    if (a.status === "accepted") { this.stats.accepted++; this.o.log.info(`round ${a.round}: update accepted`); } else { this.stats.refused++; this.o.log.warn(`round ${a.round}: update refused (${a.reason}: ${a.detail ?? ""})`); }
    this.emit("verdict", a.round, a);
  }

  // After a reconnection or a re-announcement: carry on from where the job stopped.
  private resume(): void {
    const j = this.job;
    if (!j) return;
    if (j.phase === "fetch") this.fetch();
    else if (j.phase === "upload") this.upload(j);
  }

  private tick(): void {
    const j = this.job, now = Date.now();
    if (!j || !this.t.connected) return;
    if (j.phase === "fetch" && now - j.lastChunkAt > (this.o.fetchRetryMs ?? 5000)) this.fetch();
    if (j.phase === "upload" && now - j.lastSendAt > (this.o.ackWaitMs ?? 10_000)) this.upload(j);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.t.farewell(topics.fedPeer(this.o.fleet, this.o.id, "trainer"), { kind: "trainer", id: this.o.id, online: false });
    await this.t.close();
    await this.o.local.close();
  }
}
