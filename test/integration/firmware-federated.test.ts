// A firmware peer in live federated MeZO rounds (docs/federated.md "The firmware side"):
// `edgellm-fw serve --train-data` trains inside the module's agent under wasm3 beside a Node
// trainer, over mosquitto, and the run ends with the simulated run's adapter bytes. So the
// firmware's pairs equal the ones a Node trainer computes for the same id, its fetch and upload
// follow §9, and its examples never leave the process. Its decoder takes the protocol vectors.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { Kind } from "../../host/format/spec.js";
import { Engine } from "../../host/engine/engine.js";
import { Coordinator } from "../../host/federated/coordinator.js";
import { CoordinatorService } from "../../host/federated/coordinator-service.js";
import { scalarGlobal } from "../../host/federated/global-model.js";
import { inProcess, LocalTrainer, modelChecksum } from "../../host/federated/local-trainer.js";
import { SeedPool } from "../../host/federated/seed-scalar.js";
import { simulateSeedScalarRound } from "../../host/federated/simulate.js";
import { FedTrainer } from "../../host/federated/trainer.js";
import type { Recipe } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { LoraTrainer } from "../../host/train/finetune.js";
import { MezoTrainer } from "../../host/train/mezo.js";
import { baseModel, homeExamples, SEQ, waitFor, writeHome } from "./federated-helpers.js";
import { FW, FW_DEVICE, requireFirmware, ROOT } from "./firmware-helpers.js";
import { captureLog, until } from "./fleet-helpers.js";

let mosq: MosquittoProcess;
const procs: ChildProcess[] = [];
before(async () => { requireFirmware(); mosq = await startMosquitto(); });
after(async () => { for (const p of procs) p.kill("SIGKILL"); await mosq?.stop(); });

// The coordinator's base model (the repository's default) as a file for the firmware.
const modelFile = (() => { let p: string | null = null; return () => p ??= (() => { const f = join(mkdtempSync(join(tmpdir(), "edgellm-fwfed-")), "base.ellm"); writeFileSync(f, baseModel().bytes); return f; })(); })();

const IDS = ["n1", "fw2"]; // a Node trainer and a firmware trainer
// Device-sized adapters: rank 2 on wq and wv (9,408 bytes), rank 1 on wq (2,848 bytes: what
// 147,456 bytes of linear memory leave room for beside the model and the agent at ctx 32).
const start = (rank: number, targets: Kind[]) => {
  const m = baseModel();
  return writeAdapter(new LoraTrainer(m.image, modelChecksum(m), SEQ, { rank, alpha: rank, targets, lr: 1e-3, lrDecay: 1, weightDecay: 0, batch: 2, steps: 1, seed: 3 }).adapter(AdapterStorage.F32));
};

async function run(fleet: string, recipe: Recipe, image: Uint8Array, bin: string, firmwareArgs: string[]): Promise<{ overMqtt: Uint8Array; simulated: Uint8Array; initial: Uint8Array; fwLog: string; upBytes: number }> {
  const holder = () => {
    const e = Engine.load(baseModel().bytes, undefined, { engine: "simd", ctx: SEQ });
    e.loadAdapter(image, 1);
    return new MezoTrainer(e, image.length, homeExamples(1), { eps: recipe.mezo!.eps, lr: recipe.lr, batch: recipe.batch, seed: BigInt(recipe.seed) });
  };
  const node = await FedTrainer.start({ broker: mosq.url, fleet, id: IDS[0], local: inProcess(new LocalTrainer(baseModel(), homeExamples(1))), chunkBytes: 2048, log: captureLog(IDS[0]).log });
  const fw = spawn(bin, ["serve", "--broker", mosq.url, "--model", modelFile(), "--id", IDS[1], "--fleet", fleet, "--train-data", writeHome(2), ...firmwareArgs], { stdio: ["ignore", "ignore", "pipe"] });
  procs.push(fw);
  let fwLog = "";
  fw.stderr!.on("data", (d) => { fwLog += d; });
  const pool = new SeedPool(recipe.mezo!.pool, recipe.mezo!.poolSeed);
  const model = scalarGlobal(holder(), pool, recipe.steps, recipe.lr, undefined);
  const coordinator = new Coordinator(model.initial, { clientsPerRound: 2, roundMs: 60_000, server: "fedavg", seed: recipe.seed });
  const service = await CoordinatorService.start(coordinator, model, { broker: mosq.url, fleet, id: "coord", rounds: 2, clientsPerRound: 2, roundMs: 60_000, gatherMs: 60_000, base: modelChecksum(baseModel()), recipe, log: captureLog("coord").log });
  let upBytes = 0;
  service.driver.on("closed", (r) => { upBytes = Math.max(upBytes, r.bytesUp); });
  try {
    await until(() => fwLog.includes("trains in federated rounds"), 30_000, `the firmware trainer up (${fwLog})`);
    service.run();
    await waitFor(service.finished(), 120_000, "2 rounds");
  } catch (e) {
    throw new Error(`${(e as Error).message}; the firmware trainer's log:\n${fwLog}`);
  } finally {
    await service.close();
    await node.close();
  }
  const overMqtt = model.bytes(coordinator).slice();
  const g = holder();
  const sim = { clientTrainer: holder(), globalTrainer: g, pool, clients: IDS.map((id, i) => ({ id, examples: homeExamples(i + 1) })), steps: recipe.steps, lr: recipe.lr };
  const c = new Coordinator(new Float32Array(0), { clientsPerRound: 2, roundMs: 1, server: "fedavg", seed: recipe.seed });
  for (let r = 1; r <= 2; r++) simulateSeedScalarRound(c, sim, recipe.seed, r);
  fw.kill("SIGTERM");
  await new Promise((r) => fw.once("close", r));
  return { overMqtt, simulated: g.adapterBytes(), initial: image, fwLog, upBytes };
}

test("a firmware trainer and a Node trainer: 2 MeZO rounds over mosquitto end with the simulated run's adapter bytes", { timeout: 240_000 }, async () => {
  const recipe: Recipe = { method: "mezo", steps: 6, lr: 1e-3, batch: 2, seq: SEQ, seed: 9, mezo: { eps: 1e-3, pool: 64, poolSeed: 9 } };
  const r = await run("ffw", recipe, start(2, [Kind.Wq, Kind.Wv]), FW, []);
  assert.match(r.fwLog, /round 1: sampled; fetching the global adapter/);
  assert.match(r.fwLog, /round 2: update accepted/);
  assert.equal(r.upBytes, 2 * 8 * recipe.steps, "each trainer uploads 8 bytes a step");
  assert.ok(!Buffer.from(r.simulated).equals(Buffer.from(r.initial)), "training moved the adapter");
  assert.ok(Buffer.from(r.overMqtt).equals(Buffer.from(r.simulated)), "the firmware's pairs are the Node trainer's: the same adapter bytes");
});

test("on the device profile (wasm3 as on the ESP32, 147,456 bytes of linear memory) the same round trains", { timeout: 240_000 }, async () => {
  const recipe: Recipe = { method: "mezo", steps: 4, lr: 1e-3, batch: 1, seq: SEQ, seed: 4, mezo: { eps: 1e-3, pool: 4096, poolSeed: 11 } };
  const r = await run("ffd", recipe, start(1, [Kind.Wq]), FW_DEVICE, ["--host-weights", "--max-memory", "147456", "--inbox", "4096", "--ctx", String(SEQ), "--max-queue", "1"]);
  assert.ok(Buffer.from(r.overMqtt).equals(Buffer.from(r.simulated)), `the same adapter bytes under the device's memory cap (${r.fwLog.slice(-400)})`);
  assert.doesNotMatch(r.fwLog, /linear memory grew/, "training allocated its buffers once, in the first round");
});

test("edgellm-fw serve --decode round|chunk|ack takes the federated protocol vectors as the Node schemas do", () => {
  requireFirmware();
  const vectors = JSON.parse(readFileSync(join(ROOT, "test", "vectors", "protocol", "federated.json"), "utf8")) as { messages: { name: string; topic: string; payload: unknown; expect: string; reason?: string }[] };
  const data = writeHome(1);
  let checked = 0;
  for (const v of vectors.messages) {
    const s = v.topic.split("/");
    const kind = s[3] === "fed" && s[4] === "round" ? "round" : s[3] === "fedto" && s[4] === "home00" ? s[5] : null;
    if (kind === null) continue; // what a trainer publishes, or a topic the host's parser refuses
    const payload = typeof v.payload === "string" ? v.payload : JSON.stringify(v.payload);
    const r = spawnSync(FW_DEVICE, ["serve", "--decode", kind, "--model", modelFile(), "--fleet", s[2], "--id", "home00", "--train-data", data], { input: payload, encoding: "utf8" });
    const last = r.stdout.trim().split("\n").pop() ?? "";
    if (v.expect === "ok") assert.equal(last, "ok", `${v.name}: ${r.stdout} ${r.stderr}`);
    else { assert.match(last, /^reject: /, `${v.name}: ${r.stdout} ${r.stderr}`); assert.ok(last.includes(v.reason!), `${v.name}: '${last}' names '${v.reason}'`); }
    checked++;
  }
  assert.ok(checked >= 15, `${checked} vectors checked`);
  const noData = spawnSync(FW_DEVICE, ["serve", "--decode", "round", "--model", modelFile()], { input: "{}", encoding: "utf8" });
  assert.equal(noData.status, 2);
  assert.match(noData.stderr, /--decode round needs --train-data/);
  // The plain module leaves the trainer out (its static data would not fit a 144 KiB commands peer).
  const plain = spawnSync(FW_DEVICE, ["serve", "--decode", "round", "--model", modelFile(), "--train-data", data, "--module", join(ROOT, "build", "edgellm.wasm")], { input: "{}", encoding: "utf8" });
  assert.equal(plain.status, 2);
  assert.match(plain.stderr, /built without the federated trainer \(build\/edgellm-fed\.wasm has it\)/);
});

test("a firmware trainer killed mid-round costs the round its own update only; its last will takes it off the coordinator's list", { timeout: 120_000 }, async () => {
  const fleet = "ffk";
  const recipe: Recipe = { method: "mezo", steps: 200, lr: 1e-3, batch: 2, seq: SEQ, seed: 2, mezo: { eps: 1e-3, pool: 64, poolSeed: 5 } };
  const image = start(2, [Kind.Wq, Kind.Wv]);
  const e = Engine.load(baseModel().bytes, undefined, { engine: "simd", ctx: SEQ });
  e.loadAdapter(image, 1);
  const holder = new MezoTrainer(e, image.length, homeExamples(1), { eps: 1e-3, lr: recipe.lr, batch: recipe.batch, seed: BigInt(recipe.seed) });
  const node = await FedTrainer.start({ broker: mosq.url, fleet, id: IDS[0], local: inProcess(new LocalTrainer(baseModel(), homeExamples(1))), chunkBytes: 2048, log: captureLog(IDS[0]).log });
  const fw = spawn(FW, ["serve", "--broker", mosq.url, "--model", modelFile(), "--id", IDS[1], "--fleet", fleet, "--train-data", writeHome(2)], { stdio: ["ignore", "ignore", "pipe"] });
  procs.push(fw);
  let fwLog = "";
  fw.stderr!.on("data", (d) => { fwLog += d; });
  const model = scalarGlobal(holder, new SeedPool(64, 5), recipe.steps, recipe.lr, undefined);
  const coordinator = new Coordinator(model.initial, { clientsPerRound: 2, roundMs: 20_000, server: "fedavg", seed: recipe.seed });
  const coord = captureLog("coord");
  const service = await CoordinatorService.start(coordinator, model, { broker: mosq.url, fleet, id: "coord", rounds: 1, clientsPerRound: 2, roundMs: 20_000, gatherMs: 60_000, base: modelChecksum(baseModel()), recipe, log: coord.log });
  let closed: { accepted: number; sampled: number } | null = null;
  service.driver.on("closed", (r) => { closed = r; });
  try {
    await until(() => fwLog.includes("trains in federated rounds"), 30_000, "the firmware trainer up");
    service.run();
    await until(() => fwLog.includes("round 1: sampled"), 30_000, `the firmware trainer sampled (${fwLog})`);
    await until(() => coord.lines.some((l) => l.includes(`trainer ${IDS[0]}`)), 10_000, "the Node trainer seen");
    fw.kill("SIGKILL"); // mid-round: its 200 steps take far longer than this
    await until(() => coord.lines.some((l) => l.includes(`trainer ${IDS[1]} offline`)), 20_000, `the firmware's last will on the coordinator (${coord.lines.join("\n")})`);
    await waitFor(service.finished(), 60_000, "the round's deadline");
  } finally {
    await service.close();
    await node.close();
  }
  const r = closed as { accepted: number; sampled: number } | null;
  assert.ok(r, "round 1 closed");
  assert.equal(r.sampled, 2);
  assert.equal(r.accepted, 1, "the round closed at its deadline with the Node trainer's update alone");
});
