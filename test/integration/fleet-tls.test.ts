// The fleet over TLS, as deploy/mosquitto/ sets it up: a mosquitto with a TLS listener that
// requires client certificates (mutual TLS), a password file and the fleet ACL, with a throwaway
// CA, server and client certificates made by openssl for this run. A gateway, a Node peer
// (`edgellm serve`) and a firmware peer (`edgellm-fw serve`), the peers given the same TLS
// flags, serve tasks with the text of a local run. A firmware peer that cannot verify the
// broker (wrong CA, wrong host name), or that the broker does not accept (no client
// certificate, one from another CA), exits 1 with one error line saying why; bad TLS flags and
// files exit 2 / 1 at once.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FleetClient } from "../../host/fleet/client.js";
import { FleetError } from "../../host/fleet/errors.js";
import { Gateway } from "../../host/fleet/gateway.js";
import { b64 } from "../../host/fleet/messages.js";
import { fleetAcl, startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog, CLI, FW, haveFirmwarePeer, haveShared, localRun, modelFile, spawnFirmwarePeer, spawnPeer, taskSet, until } from "./fleet-helpers.js";

const haveOpenssl = spawnSync("openssl", ["version"]).status === 0;
const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)")
  || skipUnless(haveOpenssl, "the openssl command");
const FLEET = "tls";
const USERS = { gateway: "gw-secret", client: "client-secret", "node-p": "node-secret", "fw-p": "fw-secret", "fw-x": "fwx-secret" };

// Throwaway PKI: ca (trusted by the broker and the fleet), server (SAN IP:127.0.0.1 only, so
// "localhost" does not match it), client (signed by ca), and a rogue CA with its own client.
interface Pki { dir: string; ca: string; server: string; serverKey: string; client: string; clientKey: string; rogueCa: string; rogueClient: string; rogueKey: string }
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-tls-"));
  chmodSync(dir, 0o755); // mosquitto started as root reads these as the mosquitto user
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string, cn: string) => ssl("req", "-x509", ...ec, "-days", "1", "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.crt`);
  const leaf = (name: string, cn: string, caName: string, ext?: string) => {
    ssl("req", ...ec, "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
    if (ext) writeFileSync(p(`${name}.ext`), ext);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.crt`, "-CAkey", `${caName}.key`, "-CAcreateserial", "-days", "1",
      ...(ext ? ["-extfile", `${name}.ext`] : []), "-out", `${name}.crt`);
  };
  ca("ca", "edgellm test CA");
  leaf("server", "127.0.0.1", "ca", "subjectAltName=IP:127.0.0.1\n");
  leaf("client", "edgellm test device", "ca");
  ca("rogue", "rogue CA");
  leaf("rogue-client", "rogue device", "rogue");
  for (const f of ["server.key", "client.key"]) chmodSync(p(f), 0o644); // throwaway keys, read by mosquitto
  return { dir, ca: p("ca.crt"), server: p("server.crt"), serverKey: p("server.key"), client: p("client.crt"), clientKey: p("client.key"),
    rogueCa: p("rogue.crt"), rogueClient: p("rogue-client.crt"), rogueKey: p("rogue-client.key") };
}

let pki: Pki;
let mosq: MosquittoProcess;
let url: string;
before(async () => {
  if (skip) return;
  pki = makePki();
  mosq = await startMosquitto({
    users: USERS, acl: fleetAcl(FLEET),
    // per_listener_settings is false: these apply to the (only) listener, as in deploy/mosquitto.conf.
    extra: [`cafile ${pki.ca}`, `certfile ${pki.server}`, `keyfile ${pki.serverKey}`, "require_certificate true", "tls_version tlsv1.2"],
  });
  url = `mqtts://127.0.0.1:${mosq.port}`;
});
after(async () => { await mosq?.stop(); });

function tlsBuffers() {
  return { ca: readFileSync(pki.ca), cert: readFileSync(pki.client), key: readFileSync(pki.clientKey) };
}

function collect(child: ChildProcess): { text: () => string; exit: Promise<number | null> } {
  let err = "";
  child.stderr!.on("data", (d) => { err += d; });
  // "close", not "exit": stderr may still hold the last line when the process exits.
  return { text: () => err, exit: new Promise((r) => child.once("close", (code) => r(code))) };
}

test("a gateway, a Node peer and a firmware peer over mutual TLS serve tasks with the text of a local run", { skip, timeout: 60_000 }, async () => {
  const tls = tlsBuffers();
  const gw = await Gateway.start({ broker: url, fleet: FLEET, id: "gw", username: "gateway", password: USERS.gateway, tls, log: captureLog("gateway").log,
    scheduler: { leaseMs: 5000, peerTimeoutMs: 3000 } });
  // Both peers get the same TLS flags. The Node peer holds one task at a time, so the firmware
  // peer (wasm3, far slower) surely gets some of a burst.
  const tlsFlags = ["--cafile", pki.ca, "--cert", pki.client, "--key", pki.clientKey];
  const nodeChild = spawnPeer(url, "node-p", ["--fleet", FLEET, "--username", "node-p", "--password", USERS["node-p"], "--max-queue", "1", ...tlsFlags]);
  const node = collect(nodeChild);
  const fwChild = spawnFirmwarePeer(url, "fw-p", FLEET, ["--username", "fw-p", "--password", USERS["fw-p"], ...tlsFlags]);
  const fw = collect(fwChild);
  try {
    await until(() => gw.scheduler.peerIds().includes("fw-p"), 20_000, `the firmware peer online over TLS (${fw.text()})`);
    await until(() => gw.scheduler.peerIds().includes("node-p"), 20_000, `the Node peer online over TLS (${node.text()})`);
    assert.match(fw.text(), /peer fw-p serving .* on mqtts:\/\/127\.0\.0\.1:/);
    const client = await FleetClient.connect({ broker: url, fleet: FLEET, username: "client", password: USERS.client, tls, log: captureLog("client").log, resubmitMs: 3000 });
    const tasks = taskSet(8, 48);
    const replies = await Promise.all(tasks.map((t) => client.submit({ ...t, timeoutMs: 40_000 })));
    const served = new Set<string>();
    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, "done", `${tasks[i].taskId}: ${r.error ?? ""}`);
      assert.ok(Buffer.from(b64.to(r.data)).equals(localRun(tasks[i])), `${tasks[i].taskId} (peer ${r.peer}): output differs from a local run`);
      served.add(r.peer!);
    }
    assert.deepEqual([...served].sort(), ["fw-p", "node-p"], "both peer kinds served tasks over TLS");
    await client.close();

    // SIGTERM: the firmware peer's offline status goes out over TLS, and it exits cleanly.
    fwChild.kill("SIGTERM");
    assert.equal(await fw.exit, 0, fw.text());
    await until(() => !gw.scheduler.peerIds().includes("fw-p"), 5000, "the gateway to see the firmware peer offline");
    assert.doesNotMatch(fw.text(), /error|disconnected/, fw.text());
  } finally {
    for (const c of [fwChild, nodeChild]) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await gw.close();
  }
});

// Runs `edgellm-fw serve` expecting it to fail: exit code and stderr.
async function fwFails(args: string[]): Promise<{ code: number | null; err: string }> {
  const child = spawn(FW, ["serve", "--model", modelFile(), "--fleet", FLEET, "--connect-timeout", "5000", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const c = collect(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await c.exit;
  clearTimeout(timer);
  return { code, err: c.text() };
}

test("a firmware peer that cannot verify the broker, or that the broker refuses, exits 1 with one line saying why", { skip, timeout: 60_000 }, async () => {
  const fw = ["--id", "fw-x", "--username", "fw-x", "--password", USERS["fw-x"]];
  const mtls = ["--cert", pki.client, "--key", pki.clientKey];
  const cases: [string, string[], RegExp][] = [
    ["wrong CA", ["--broker", url, "--cafile", pki.rogueCa, ...mtls], /certificate verify failed/],
    ["system CAs only", ["--broker", url, ...mtls], /certificate verify failed/],
    ["host name not in the certificate", ["--broker", `mqtts://localhost:${mosq.port}`, "--cafile", pki.ca, ...mtls], /certificate verify failed|host name verification failed/],
    ["no client certificate", ["--broker", url, "--cafile", pki.ca], /certificate required|it may require a client certificate/],
    ["client certificate from another CA", ["--broker", url, "--cafile", pki.ca, "--cert", pki.rogueClient, "--key", pki.rogueKey], /unknown ca|it may not accept the client certificate/],
    ["key of another certificate", ["--broker", url, "--cafile", pki.ca, "--cert", pki.client, "--key", pki.rogueKey], /key values mismatch/],
    ["wrong password", ["--broker", url, "--cafile", pki.ca, ...mtls, "--password", "nope"], /refused the connection: .*not authori[sz]ed/i],
    ["plain MQTT to the TLS listener", ["--broker", mosq.url], /closed the connection before accepting it|no connection to/],
  ];
  const results = await Promise.all(cases.map(([, args]) => fwFails([...fw, ...args])));
  for (const [i, [what, , why]] of cases.entries()) {
    const { code, err } = results[i];
    assert.equal(code, 1, `${what}: exit ${code}\n${err}`);
    const lines = err.trim().split("\n");
    assert.equal(lines.length, 1, `${what}: one line expected:\n${err}`);
    assert.match(lines[0], /^edgellm-fw: error: /, what);
    assert.match(lines[0], why, `${what}: ${lines[0]}`);
  }
  // The broker saw the TLS failures too, and nothing got in as fw-x.
  assert.doesNotMatch(mosq.log(), /New client connected .* as edgellm-peer-fw-x/);
});

test("without --cafile the firmware peer trusts the system's CAs (OpenSSL's default paths: SSL_CERT_FILE here)", { skip, timeout: 30_000 }, async () => {
  const child = spawn(FW, ["serve", "--model", modelFile(), "--fleet", FLEET, "--id", "fw-x", "--username", "fw-x", "--password", USERS["fw-x"],
    "--broker", url, "--cert", pki.client, "--key", pki.clientKey, "--heartbeat", "300"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SSL_CERT_FILE: pki.ca } });
  const c = collect(child);
  try {
    await until(() => /peer fw-x serving/.test(c.text()) || child.exitCode !== null, 20_000, "the firmware peer to connect");
    assert.match(c.text(), /peer fw-x serving .* on mqtts:/, c.text());
    child.kill("SIGTERM");
    assert.equal(await c.exit, 0, c.text());
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

test("bad TLS flags exit 2 and unusable TLS files exit 1, each with one line, before connecting", { skip }, async () => {
  const bad = join(pki.dir, "not-pem.txt");
  writeFileSync(bad, "hello\n");
  const cases: [string[], number, RegExp][] = [
    [["--broker", mosq.url, "--cafile", pki.ca], 2, /--cafile, --cert and --key need an mqtts:\/\/ broker/],
    [["--broker", url, "--cafile", pki.ca, "--cert", pki.client], 2, /--cert and --key go together/],
    [["--broker", url, "--key", pki.clientKey], 2, /--cert and --key go together/],
    [["--broker", "mqttx://127.0.0.1:1"], 2, /broker must be mqtt:\/\/host\[:port\] or mqtts:\/\/host\[:port\]/],
    [["--broker", url, "--cafile", join(pki.dir, "missing.crt")], 1, /--cafile '.*missing\.crt': No such file or directory/],
    [["--broker", url, "--cafile", pki.dir], 1, /--cafile '.*': Is a directory/],
    [["--broker", url, "--cafile", bad], 1, /--cafile '.*not-pem\.txt' is not PEM/],
    [["--broker", url, "--cafile", pki.ca, "--cert", pki.clientKey, "--key", pki.clientKey], 1, /--cert '.*client\.key' is not PEM/],
    [["--broker", url, "--cafile", pki.ca, "--cert", pki.client, "--key", pki.client], 1, /--key '.*client\.crt' is not PEM/],
    [["--broker", url, "--connect-timeout", "5"], 2, /connect-timeout must be ms in \[100, 3600000\]/],
  ];
  for (const [args, want, why] of cases) {
    const t0 = Date.now();
    const { code, err } = await fwFails(["--id", "fw-x", ...args]);
    assert.equal(code, want, `${args.join(" ")}: exit ${code}\n${err}`);
    const lines = err.trim().split("\n").filter((l) => !l.startsWith("usage:") && !l.startsWith(" "));
    assert.equal(lines.length, 1, err);
    assert.match(lines[0], /^edgellm-fw: error: /);
    assert.match(lines[0], why, lines[0]);
    assert.ok(Date.now() - t0 < 2000, `${args.join(" ")}: took ${Date.now() - t0} ms (flags and files are checked before the model is loaded)`);
  }
});

test("the Node CLI checks the same TLS flags the same way (one line, exit 2 / 1)", { skip, timeout: 30_000 }, async () => {
  const bad = join(pki.dir, "not-pem.txt");
  writeFileSync(bad, "hello\n");
  const cases: [string[], number, RegExp][] = [
    [["--broker", mosq.url, "--cafile", pki.ca], 2, /--cafile, --cert and --key need an mqtts:\/\/ \(or wss:\/\/\) broker/],
    [["--broker", url, "--cafile", pki.ca, "--cert", pki.client], 2, /--cert and --key go together/],
    [["--broker", url, "--cafile", join(pki.dir, "missing.crt")], 1, /--cafile '.*missing\.crt': no such file/],
    [["--broker", url, "--cafile", bad], 1, /--cafile '.*not-pem\.txt' is not PEM/],
    [["--broker", url, "--cafile", pki.ca, "--cert", pki.client, "--key", pki.client], 1, /--key '.*client\.crt' is not PEM/],
  ];
  const results = await Promise.all(cases.map(([args]) => {
    const c = collect(spawn(process.execPath, [CLI, "peers", "--connect-timeout", "1000", ...args], { stdio: ["ignore", "ignore", "pipe"] }));
    return c.exit.then((code) => ({ code, err: c.text() }));
  }));
  for (const [i, [args, want, why]] of cases.entries()) {
    const { code, err } = results[i];
    assert.equal(code, want, `${args.join(" ")}: exit ${code}\n${err}`);
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err, /^edgellm: /);
    assert.match(err, why, err);
  }
});

test("a Node client with the wrong CA is refused, not crashed", { skip, timeout: 10_000 }, async () => {
  await assert.rejects(
    Transport.connect({ broker: url, clientId: "wrong-ca", username: "client", password: USERS.client, connectTimeoutMs: 1500,
      ca: readFileSync(pki.rogueCa), cert: readFileSync(pki.client), key: readFileSync(pki.clientKey), log: captureLog("x").log }),
    (e: unknown) => e instanceof FleetError && e.code === "E_FLEET_CONNECT",
  );
});
