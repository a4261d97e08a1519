// Fleet benchmark, everything side by side in one run on a private mosquitto:
//  1. latency: one task at a time through gateway + peer (separate processes) vs the same
//     generation run locally in this process: p50/p99 and the added milliseconds;
//  2. throughput with short tasks: 3 peers vs one local engine, tasks/s;
//  3. scale: how many simulated peers (protocol-complete, instant results) one gateway serves.
// Usage: node dist/tools/bench-fleet.js ../shared/models/stories260K.bin -z ../shared/models/tok512.bin
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { generate } from "../host/engine/generate.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { loadModelFile } from "../host/format/load.js";
import { readFileSync } from "node:fs";
import { FleetClient } from "../host/fleet/client.js";
import { makeLogger } from "../host/fleet/log.js";
import { startMosquitto } from "../host/fleet/mosquitto.js";
import { topics } from "../host/fleet/topics.js";
import { Transport } from "../host/fleet/transport.js";

const CLI = join(PROJECT_ROOT, "bin", "edgellm.js");
const args = process.argv.slice(2);
const modelPath = args[0];
const tokPath = args[args.indexOf("-z") + 1];
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const LAT_TASKS = opt("--latency-tasks", 200), LAT_STEPS = opt("--latency-steps", 32);
const TP_TASKS = opt("--throughput-tasks", 300), TP_STEPS = opt("--throughput-steps", 16);
const SCALE = (args.includes("--scale") ? args[args.indexOf("--scale") + 1] : "10,100,300").split(",").map(Number);
const SCALE_TASKS = opt("--scale-tasks", 1000);
if (!modelPath || args.indexOf("-z") < 0) { process.stderr.write("usage: bench-fleet MODEL -z TOKENIZER [--scale 10,100,300]\n"); process.exit(2); }

const log = makeLogger("bench", "error");
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const f1 = (x: number) => x.toFixed(1), f2 = (x: number) => x.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function child(argv: string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...argv, "--log-level", process.env.BENCH_LOG ?? "error"], { stdio: ["ignore", "ignore", "inherit"] });
}

async function waitPeers(client: FleetClient, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) { if ((await client.peers(100)).filter((p) => p.online).length >= n) return; }
  throw new Error(`${n} peers did not come online`);
}

const model = loadModelFile(modelPath, { bytes: new Uint8Array(readFileSync(tokPath)), path: tokPath });
const mosq = await startMosquitto();
const broker = mosq.url;
const procs: ChildProcess[] = [];
process.on("exit", () => { for (const p of procs) p.kill("SIGKILL"); mosq.proc.kill("SIGKILL"); }); // even after a crash
const out: string[] = [];
const say = (s: string) => { out.push(s); process.stdout.write(s + "\n"); };

try {
  procs.push(child(["gateway", "--broker", broker, "--fleet", "bench", "--id", "gw"]));
  procs.push(child(["serve", "--broker", broker, "--fleet", "bench", "--id", "p1", "--model", modelPath, "-z", tokPath]));
  const client = await FleetClient.connect({ broker, fleet: "bench", log });
  await client.waitForGateway(30_000);
  await waitPeers(client, 1);
  await sleep(500);

  // 1. latency, interleaved local / fleet so both see the same machine load.
  const engine = Engine.load(model.bytes, undefined, { engine: "simd", ctx: LAT_STEPS });
  const local: number[] = [], fleet: number[] = [];
  for (let i = 0; i < LAT_TASKS + 10; i++) {
    const req = { prompt: "Once upon a time", steps: LAT_STEPS, temperature: 0.8, topp: 0.9, seed: BigInt(i) };
    let t = performance.now();
    generate(engine, req, () => undefined);
    const l = performance.now() - t;
    t = performance.now();
    await client.submit(req);
    const f = performance.now() - t;
    if (i >= 10) { local.push(l); fleet.push(f); } // first 10: warm-up
  }
  say(`\n1. Latency of one task (-n ${LAT_STEPS}, ${LAT_TASKS} tasks one at a time, gateway and peer in their own processes)\n`);
  say("| | p50 ms | p99 ms |");
  say("|---|---|---|");
  say(`| local run (generate in-process) | ${f2(pct(local, 50))} | ${f2(pct(local, 99))} |`);
  say(`| through the gateway (submit → reply) | ${f2(pct(fleet, 50))} | ${f2(pct(fleet, 99))} |`);
  say(`| added by the fleet | ${f2(pct(fleet, 50) - pct(local, 50))} | ${f2(pct(fleet, 99) - pct(local, 99))} |`);
  say(`| ratio fleet / local | ${f1(pct(fleet, 50) / pct(local, 50))}× | ${f1(pct(fleet, 99) / pct(local, 99))}× |`);

  // 2. throughput with short tasks.
  procs.push(child(["serve", "--broker", broker, "--fleet", "bench", "--id", "p2", "--model", modelPath, "-z", tokPath]));
  procs.push(child(["serve", "--broker", broker, "--fleet", "bench", "--id", "p3", "--model", modelPath, "-z", tokPath]));
  await waitPeers(client, 3);
  await sleep(500);
  const tpEngine = Engine.load(model.bytes, undefined, { engine: "simd", ctx: TP_STEPS });
  let t0 = performance.now();
  for (let i = 0; i < TP_TASKS; i++) generate(tpEngine, { prompt: "The cat", steps: TP_STEPS, temperature: 0.8, topp: 0.9, seed: BigInt(i) }, () => undefined);
  const localTps = TP_TASKS / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  await Promise.all(Array.from({ length: TP_TASKS }, (_, i) => client.submit({ prompt: "The cat", steps: TP_STEPS, temperature: 0.8, topp: 0.9, seed: BigInt(i) })));
  const fleetTps = TP_TASKS / ((performance.now() - t0) / 1000);
  say(`\n2. Throughput with short tasks (-n ${TP_STEPS}, ${TP_TASKS} tasks submitted at once)\n`);
  say("| | tasks/s | ratio |");
  say("|---|---|---|");
  say(`| local, one engine, sequential | ${f1(localTps)} | 1.00 |`);
  say(`| fleet, 3 peers (processes) + gateway on the same 2 cores | ${f1(fleetTps)} | ${f2(fleetTps / localTps)} |`);
  for (const p of procs.splice(0)) p.kill("SIGTERM");
  await sleep(1500);

  // 3. scale: simulated peers.
  say(`\n3. One gateway, N simulated peers (heartbeat 1 s, maxQueue 4, instant results), ${SCALE_TASKS} tasks submitted at once\n`);
  say("| simulated peers | all online after ms | tasks/s | p50 ms | p99 ms | peers that served |");
  say("|---|---|---|---|---|---|");
  for (const n of SCALE) {
    const fleetName = `scale${n}`;
    const gw = child(["gateway", "--broker", broker, "--fleet", fleetName, "--id", `gw-${n}`, "--peer-timeout", "10000"]);
    procs.push(gw);
    const sc = await FleetClient.connect({ broker, fleet: fleetName, log });
    await sc.waitForGateway(30_000);
    const served = new Set<string>();
    const sims: Transport[] = [];
    const tStart = performance.now();
    for (let i = 0; i < n; i++) sims.push(await simPeer(broker, fleetName, `sim-${i}`, served));
    // Online as the gateway sees it: a task can land on the last one. Measured by clients' view of retained status.
    await waitPeers(sc, n);
    const onlineMs = performance.now() - tStart;
    const lat: number[] = [];
    t0 = performance.now();
    await Promise.all(Array.from({ length: SCALE_TASKS }, async (_, i) => {
      const s = performance.now();
      await sc.submit({ prompt: "x", steps: 8, temperature: 0, topp: 0.9, seed: BigInt(i), timeoutMs: 120_000 });
      lat.push(performance.now() - s);
    }));
    const tps = SCALE_TASKS / ((performance.now() - t0) / 1000);
    say(`| ${n} | ${onlineMs.toFixed(0)} | ${f1(tps)} | ${f1(pct(lat, 50))} | ${f1(pct(lat, 99))} | ${served.size} |`);
    await sc.close();
    for (const s of sims) await s.close();
    gw.kill("SIGTERM");
    await sleep(300);
  }
  await client.close();
} finally {
  for (const p of procs) p.kill("SIGTERM");
  await sleep(500);
  await mosq.stop();
}

// A protocol-complete peer without a model: announces, heartbeats, accepts and answers at once.
async function simPeer(url: string, fleet: string, id: string, served: Set<string>): Promise<Transport> {
  const t = await Transport.connect({
    broker: url, clientId: `sim-${fleet}-${id}`, log, protocolVersion: 5,
    will: { topic: topics.peer(fleet, id, "status"), message: { kind: "status", id, online: false }, retain: true },
  });
  const held = new Set<string>();
  t.on("message", (_route, m) => {
    if (m.kind !== "task") return;
    held.add(m.taskId);
    const ignore = () => undefined;
    t.publish(topics.peer(fleet, id, "accept"), { kind: "accept", taskId: m.taskId, attempt: m.attempt }, 1).catch(ignore);
    t.publish(topics.peer(fleet, id, "tokens"), { kind: "tokens", taskId: m.taskId, attempt: m.attempt, offset: 0, data: "SGk=" }, 0).catch(ignore);
    t.publish(topics.peer(fleet, id, "result"), { kind: "result", taskId: m.taskId, attempt: m.attempt, status: "done", data: "SGk=", tokens: 8, elapsedMs: 0 }, 1).catch(ignore);
    held.delete(m.taskId);
    served.add(id);
  });
  await t.subscribe([topics.peerInbox(fleet, id)]);
  await t.publish(topics.peer(fleet, id, "status"), {
    kind: "status", id, online: true, ts: Date.now(), impl: "sim", model: { id: "sim", quant: "f32", ctx: 512, vocab: 512 },
    tokPerSec: 1000, freeMem: 1 << 20, queue: 0, maxQueue: 4,
  }, 1, true);
  const hb = setInterval(() => { if (t.connected) t.publish(topics.peer(fleet, id, "heartbeat"), { kind: "heartbeat", id, ts: Date.now(), queue: held.size, tasks: [...held] }, 0).catch(() => undefined); }, 1000);
  hb.unref();
  const close = t.close.bind(t);
  t.close = async () => { clearInterval(hb); await close(); };
  return t;
}
