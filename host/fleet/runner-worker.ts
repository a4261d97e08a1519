// Worker thread that owns one Engine: runs one task at a time with generate() (so a fleet
// task prints exactly what `edgellm run` prints) and streams its pieces to the peer.
import { parentPort, workerData } from "node:worker_threads";
import { Engine } from "../engine/engine.js";
import { generate } from "../engine/generate.js";
import type { RunnerInit, RunnerOut, RunRequest } from "./runner-protocol.js";

const init = workerData as RunnerInit;
const cancel = new Int32Array(init.cancel);
const post = (m: RunnerOut) => parentPort!.postMessage(m);

class Stop extends Error { constructor(readonly status: "cancelled" | "expired") { super(status); } }

// The module's bump allocator keeps every prompt it encoded: a long-lived peer reloads its
// engine when linear memory has grown this much past its size after loading.
const RELOAD_GROWTH_BYTES = 8 << 20;
const load = () => Engine.load(init.modelBytes, undefined, { engine: init.engine, ctx: 0, kvInt8: init.kvInt8 });

let engine: Engine;
let baseBytes = 0;
try {
  engine = load();
  // Measured speed for the capability announcement: a short greedy run.
  const probeRun = () => generate(engine, { prompt: "", steps: Math.min(64, engine.info.ctx), temperature: 0, topp: 1, seed: 1n }, () => undefined);
  probeRun(); // warm-up: the first run includes the JIT's tiering
  const probe = probeRun();
  const tps = probe.tokens > 1 ? ((probe.tokens - 1) / Math.max(probe.elapsedMs, 1e-3)) * 1000 : 1;
  baseBytes = engine.memoryBytes;
  post({ type: "ready", tokPerSec: tps, ctx: engine.info.ctx, vocab: engine.info.vocabSize, memoryBytes: engine.memoryBytes });
} catch (e) {
  post({ type: "fatal", error: (e as Error).message });
  throw e;
}

parentPort!.on("message", (r: RunRequest) => {
  const start = performance.now();
  let tokens = 0;
  try {
    const res = generate(engine, { prompt: r.prompt, steps: r.steps, temperature: r.temperature, topp: r.topp, seed: BigInt(r.seed) }, (bytes) => {
      if (Atomics.load(cancel, 0) === r.run) throw new Stop("cancelled");
      if (r.deadlineAt && Date.now() > r.deadlineAt) throw new Stop("expired");
      post({ type: "piece", run: r.run, bytes });
    });
    tokens = res.tokens;
    post({ type: "done", run: r.run, status: "done", tokens, elapsedMs: performance.now() - start });
  } catch (e) {
    const status = e instanceof Stop ? e.status : "failed";
    post({ type: "done", run: r.run, status, tokens, elapsedMs: performance.now() - start, error: e instanceof Stop ? undefined : (e as Error).message.slice(0, 200) });
  }
  if (engine.memoryBytes > baseBytes + RELOAD_GROWTH_BYTES) { engine = load(); baseBytes = engine.memoryBytes; }
});
