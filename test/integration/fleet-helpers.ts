// Shared by the fleet integration tests: a real mosquitto per test, peers in this process or
// as `edgellm serve` child processes, and the local run every fleet output must equal.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../host/engine/engine.js";
import { generate } from "../../host/engine/generate.js";
import { SHARED as SHARED_DIR } from "../requirements.js";
import { PROJECT_ROOT } from "../../host/engine/module.js";
import { loadModelFile, type LoadedModel } from "../../host/format/load.js";
import { makeLogger, type Logger } from "../../host/fleet/log.js";
import { Gateway } from "../../host/fleet/gateway.js";
import type { SubmitRequest } from "../../host/fleet/client.js";
import { readFileSync } from "node:fs";

export const ROOT = PROJECT_ROOT;
export const SHARED = SHARED_DIR;
export const CHECKPOINT = join(SHARED, "models", "stories260K.bin");
export const TOKENIZER = join(SHARED, "models", "tok512.bin");
export const CLI = join(ROOT, "bin", "edgellm.js");
export const haveShared = existsSync(CHECKPOINT) && existsSync(TOKENIZER);

let cached: LoadedModel | null = null;
export function model(): LoadedModel {
  cached ??= loadModelFile(CHECKPOINT, { bytes: new Uint8Array(readFileSync(TOKENIZER)), path: TOKENIZER });
  return cached;
}

// Collects log lines so tests can assert that bad input was logged (and keeps test output quiet).
export function captureLog(name: string): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: makeLogger(name, process.env.FLEET_TEST_LOG ? "debug" : "info", (l) => { lines.push(l); if (process.env.FLEET_TEST_LOG) process.stderr.write(l + "\n"); }), lines };
}

const engines = new Map<number, Engine>();
// What `edgellm run` prints (without the final newline) for the same model and arguments.
export function localRun(r: Pick<SubmitRequest, "prompt" | "steps" | "temperature" | "topp" | "seed">): Buffer {
  let e = engines.get(r.steps);
  if (!e) { e = Engine.load(model().bytes, undefined, { engine: "simd", ctx: r.steps }); engines.set(r.steps, e); }
  const out: Buffer[] = [];
  generate(e, { prompt: r.prompt, steps: r.steps, temperature: r.temperature, topp: r.topp, seed: r.seed }, (b) => out.push(Buffer.from(b)));
  return Buffer.concat(out);
}

const PROMPTS = ["Once upon a time", "The cat", "Lily and Tom", "One day", "The big red ball", "Sam liked", "", "In the garden"];
export function taskSet(n: number, steps: number): (SubmitRequest & { taskId: string })[] {
  return Array.from({ length: n }, (_, i) => ({
    taskId: `task-${i}`, prompt: PROMPTS[i % PROMPTS.length], steps, temperature: i % 3 === 0 ? 0 : 0.8, topp: 0.9, seed: BigInt(1000 + i),
  }));
}

// EDGELLM_FW: another build of it (a sanitizer build, say) for the fleet tests.
export const FW = process.env.EDGELLM_FW ?? join(ROOT, "firmware", "build", "edgellm-fw");
// The firmware binary with the `serve` command (older builds only have `run`).
export const haveFirmwarePeer = existsSync(FW) && spawnSync(FW, ["serve"], { encoding: "utf8" }).stderr.includes("serve needs");

let ellmPath: string | null = null;
// The model as an edgellm file (the firmware maps .ellm files only), written once per run.
export function modelFile(): string {
  if (!ellmPath) {
    ellmPath = join(mkdtempSync(join(tmpdir(), "edgellm-fleet-")), "stories260K.ellm");
    writeFileSync(ellmPath, model().bytes);
  }
  return ellmPath;
}

// A firmware peer: `edgellm-fw serve` (wasm3, libmosquitto).
export function spawnFirmwarePeer(broker: string, id: string, fleet: string, extra: string[] = []): ChildProcess {
  return spawn(FW, ["serve", "--broker", broker, "--model", modelFile(), "--id", id, "--fleet", fleet, "--heartbeat", "300", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
}

// An `edgellm serve` child process.
export function spawnPeer(broker: string, id: string, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [CLI, "serve", "--broker", broker, "--id", id, "--model", CHECKPOINT, "-z", TOKENIZER, "--heartbeat", "300", "--log-level", "warn", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
}

export function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

// The CLI as a child process, awaited (a gateway in the test's process keeps its event loop
// turning meanwhile); killed after 60 s.
export function cliAsync(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string; ms: number }> {
  const t0 = Date.now();
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const out: Buffer[] = [], err: Buffer[] = [];
  c.stdout.on("data", (d: Buffer) => out.push(d));
  c.stderr.on("data", (d: Buffer) => err.push(d));
  const timer = setTimeout(() => c.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => c.once("close", (code) => {
    clearTimeout(timer);
    resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), ms: Date.now() - t0 });
  }));
}

// A gateway of `fleet` in this process and one peer (a child process `start` spawns, pushed on
// `procs` for the suite's cleanup) that it sees online; err() is what the peer wrote to stderr.
export async function gatewayAndPeer(broker: string, fleet: string, id: string, placeTimeoutMs: number, start: () => ChildProcess, procs: ChildProcess[]):
  Promise<{ gw: Gateway; p: ChildProcess; err: () => string }> {
  const gw = await Gateway.start({ broker, fleet, id: "gw", log: captureLog("gateway").log, scheduler: { placeTimeoutMs } });
  const p = start();
  procs.push(p);
  let err = "";
  p.stderr!.on("data", (d) => { err += d; });
  try {
    await until(() => gw.scheduler.peerIds().includes(id), 30_000, `peer ${id} online (${err})`);
  } catch (e) {
    p.kill("SIGKILL");
    await gw.close();
    throw e;
  }
  return { gw, p, err: () => err };
}
