// Federated rounds against real mosquitto through restarts: the broker restarted mid-round (every
// connection cut, the retained announcement lost), and the coordinator process killed mid-round
// and started again with --resume. Each run completes; with the broker restart, every round's
// global — the restarted one's too — is exactly the average of the updates the trainers
// uploaded; with the coordinator restart, the run resumes after the last round saved, each round
// is in the history once, and the ε reported counts every round that ran (the accountant's ε for
// that many rounds); with clients that keep their optimizer state, the resumed run still ends
// with the simulated run's adapter.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readAdapter } from "../../host/format/adapter-reader.js";
import { RdpAccountant } from "../../host/privacy/accountant.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { CLI, captureLog, cliAsync, until } from "./fleet-helpers.js";
import { checkAverage, closeAll, recordRounds, RECIPE_ARGS, startCoordinator, startTrainer, TrainerRecord, useMosquitto, waitFor, writeHome } from "./federated-helpers.js";

const mosquitto = useMosquitto();

test("broker restarted mid-round: trainers and coordinator reconnect, the round completes, the average holds", { timeout: 150_000 }, async () => {
  const fleet = "fb", mosq = mosquitto();
  const trainers = { b1: await startTrainer(mosq.url, fleet, "b1", 1), b2: await startTrainer(mosq.url, fleet, "b2", 2) };
  // The trainers' own record of what they uploaded: a third MQTT client (an observer) misses
  // the parts sent while it reconnects after the restart, the trainers cannot.
  const uploaded = new TrainerRecord(trainers);
  const { coordinator, service } = await startCoordinator(mosq.url, fleet, { rounds: 3, clientsPerRound: 2, roundMs: 30_000 });
  const rounds = recordRounds(coordinator, service);
  let restarted: Promise<void> | null = null;
  service.driver.on("started", (m) => { if (m.round === 2) restarted = mosq.restart(); }); // the announcement is on its way: the broker goes away now
  let reconnects = 0;
  service.transport.on("connect", () => reconnects++);
  try { // a failed assertion must not leave connections open (the file would hang to its timeout)
    service.run();
    await waitFor(service.finished(), 75_000, "3 rounds");
    await restarted;
    assert.ok(restarted && reconnects >= 1, "the broker went away during round 2 and the coordinator reconnected");
    assert.equal(rounds.results.length, 3);
    for (const r of rounds.results) {
      assert.equal(r.accepted, 2, `round ${r.round}: both updates accepted`);
      assert.deepEqual(r.refused, []);
      checkAverage(r.round, rounds.before(r.round), rounds.after(r.round), uploaded.of(r.round, r.clients));
    }
  } finally {
    await closeAll(service, ...Object.values(trainers));
  }
});

// `federate --broker` (`args`) killed with no goodbye when `killAt` calls its kill (while round 2
// runs: round 1 saved), then the same command with --resume, to its end.
async function killAndResume(broker: string, fleet: string, out: string, args: string[], killAt: (kill: () => void) => Promise<void>) {
  const run = (extra: string[]) => {
    const p = spawn(process.execPath, [CLI, "federate", "--broker", broker, "--fleet", fleet, "-o", out, ...args, "--round-timeout", "20000", "--gather", "500", "--json", "--log-level", "warn", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    const o = { p, out: "", err: "" };
    p.stdout!.on("data", (d) => { o.out += d; });
    p.stderr!.on("data", (d) => { o.err += d; });
    return o;
  };
  const first = run([]);
  await killAt(() => first.p.kill("SIGKILL"));
  if (first.p.exitCode === null && first.p.signalCode === null) await new Promise((r) => first.p.once("exit", r));
  const saved = JSON.parse(readFileSync(`${out}.federate.json`, "utf8"));
  assert.equal(saved.coordinator.round, 1);
  const again = run(["--resume"]);
  const code = await new Promise<number | null>((r) => again.p.once("exit", r));
  assert.equal(code, 0, again.err);
  assert.match(again.out, /resuming after round 1/);
  return { lines: again.out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)), state: JSON.parse(readFileSync(`${out}.federate.json`, "utf8")) };
}

// As soon as round 2 is announced.
const atRound2 = (broker: string, fleet: string) => async (kill: () => void) => {
  const watch = await Transport.connect({ broker, clientId: `watch-${fleet}`, log: captureLog("watch").log });
  try {
    let announced = 0;
    watch.on("message", (_r, m) => { if (m.kind === "round" && m.open) announced = Math.max(announced, m.round); });
    await watch.subscribe([topics.fed(fleet, "round")]);
    await until(() => announced >= 2, 60_000, "round 2 announced");
    kill();
  } finally {
    await watch.close();
  }
};

test("coordinator killed mid-round and resumed: the run continues after the last round saved, ε counts every round that ran", { timeout: 120_000 }, async () => {
  const fleet = "fc", mosq = mosquitto();
  const trainers = await Promise.all([1, 2].map((h) => startTrainer(mosq.url, fleet, `c${h}`, h)));
  const out = join(mkdtempSync(join(tmpdir(), "edgellm-fed-")), "global.ella");
  const z = 1.2, delta = 1e-5, rounds = 4;
  try {
    const { lines, state } = await killAndResume(mosq.url, fleet, out, ["--rounds", String(rounds), "--clients-per-round", "2", ...RECIPE_ARGS,
      "--dp-noise", String(z), "--dp-clip", "0.5", "--sample-rate", "1", "--delta", String(delta)], atRound2(mosq.url, fleet));
    assert.deepEqual(lines.map((l) => l.round), [2, 3, 4]);
    assert.deepEqual(state.history.map((h: { round: number }) => h.round), [1, 2, 3, 4], "every round once");
    assert.ok(state.history.every((h: { clients: number }) => h.clients === 2), "both trainers' updates in every round");
    const acc = new RdpAccountant();
    for (let r = 1; r <= rounds; r++) {
      acc.step(z, 1);
      assert.ok(Math.abs(state.history[r - 1].epsilon - acc.epsilon(delta).epsilon) < 1e-9, `ε after round ${r}`);
    }
    assert.ok(existsSync(out));
    readAdapter(new Uint8Array(readFileSync(out)), out);
  } finally {
    await closeAll(...trainers);
  }
});

// The trainers keep their optimizer state through the coordinator's restart. The coordinator is
// killed the moment home1 has trained round 2 (before its update leaves), so home1 trains round 2
// again after the resume, from its state before round 2: the run ends where one without the
// restart does, the simulation's adapter, bit for bit.
test("clients keeping their optimizer state, coordinator killed mid-round and resumed: the adapter is the simulated run's", { timeout: 120_000 }, async () => {
  const fleet = "fr", mosq = mosquitto(), dir = mkdtempSync(join(tmpdir(), "edgellm-fed-"));
  const trainers = [await startTrainer(mosq.url, fleet, "home1", 1), await startTrainer(mosq.url, fleet, "home2", 2, { thread: true })];
  const run = ["--rounds", "4", "--clients-per-round", "2", ...RECIPE_ARGS, "--keep-client-state"];
  let trainedRound2 = 0;
  const atTrained2 = (kill: () => void) => new Promise<void>((resolve) => trainers[0].on("trained", (round) => {
    if (round === 2 && ++trainedRound2 === 1) { kill(); resolve(); }
  }));
  try {
    const { state } = await killAndResume(mosq.url, fleet, join(dir, "fleet.ella"), run, atTrained2);
    assert.ok(state.history.every((h: { clients: number }) => h.clients === 2), "both trainers' updates in every round");
    assert.equal(trainedRound2, 2, "home1 trained round 2 again after the resume");
  } finally {
    await closeAll(...trainers);
  }
  const sim = await cliAsync(["federate", "--simulate", "--data", writeHome(1), writeHome(2), "-o", join(dir, "sim.ella"), ...run, "--log-level", "warn"]);
  assert.equal(sim.code, 0, sim.stderr);
  assert.ok(readFileSync(join(dir, "fleet.ella")).equals(readFileSync(join(dir, "sim.ella"))), "the same adapter bytes");
});
