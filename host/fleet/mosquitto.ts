// mosquitto for tests, benchmarks and local production-like setups: config text generation
// (listener, nodelay, optional password file and ACLs) and a child process on a free port.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetError } from "./errors.js";

export const MOSQUITTO_BIN = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) => existsSync(p)) ?? "mosquitto";

export interface MosquittoConfig {
  port: number;
  passwordFile?: string;
  aclFile?: string;
  maxPacketSize?: number;
  extra?: string[];
}

export function mosquittoConf(c: MosquittoConfig): string {
  const lines = [
    `listener ${c.port} 127.0.0.1`,
    "set_tcp_nodelay true",
    "persistence false",
    c.passwordFile ? `password_file ${c.passwordFile}` : "allow_anonymous true",
    ...(c.passwordFile ? ["allow_anonymous false"] : []),
    ...(c.aclFile ? [`acl_file ${c.aclFile}`] : []),
    ...(c.maxPacketSize ? [`max_packet_size ${c.maxPacketSize}`] : []),
    ...(c.extra ?? []),
  ];
  return lines.join("\n") + "\n";
}

// The fleet's ACL: each device user may publish only under its own peer id, read only its inbox.
// `gateway` and `client` users get the gateway's and clients' halves of the tree.
export function fleetAcl(fleet: string): string {
  const b = `edgellm/v1/${fleet}`;
  return [
    "# gateway",
    "user gateway",
    `topic read ${b}/peer/#`,
    `topic readwrite ${b}/gw/#`,
    `topic write ${b}/to/#`,
    `topic write ${b}/client/#`,
    "",
    "# clients (one shared user): submit and cancel; read replies and peers' status",
    "user client",
    `topic write ${b}/gw/submit`,
    `topic write ${b}/gw/cancel`,
    `topic read ${b}/gw/gateway`,
    `topic read ${b}/client/#`,
    `topic read ${b}/peer/+/status`,
    "",
    "# every other user is a device whose username is its peer id",
    `pattern write ${b}/peer/%u/#`,
    `pattern read ${b}/to/%u/#`,
    `pattern read ${b}/peer/%u/status`,
    "",
    "# federated rounds (docs/protocol.md §9): the coordinator announces rounds and answers trainers;",
    "# a device trains as its own peer id and reads the announcement",
    "user coordinator",
    `topic readwrite ${b}/fed/#`,
    `topic read ${b}/fedpeer/#`,
    `topic write ${b}/fedto/#`,
    `topic read ${b}/peer/+/status`,
    `pattern write ${b}/fedpeer/%u/#`,
    `pattern read ${b}/fedto/%u/#`,
    `pattern read ${b}/fed/round`,
    "",
  ].join("\n");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

export function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => { sock.destroy(); resolve(); });
      sock.once("error", () => {
        sock.destroy();
        if (Date.now() > until) reject(new FleetError("E_FLEET_CONNECT", `nothing listens on port ${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export interface MosquittoProcess { url: string; port: number; dir: string; proc: ChildProcess; log: () => string; stop(): Promise<void>; restart(): Promise<void> }

// users: username → password; written with mosquitto_passwd when given (and the ACL file then applies).
export async function startMosquitto(o: { port?: number; users?: Record<string, string>; acl?: string; maxPacketSize?: number; extra?: string[] } = {}): Promise<MosquittoProcess> {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-mosq-"));
  chmodSync(dir, 0o755); // mosquitto started as root drops to the mosquitto user, which must read these
  const port = o.port ?? (await freePort());
  let passwordFile: string | undefined, aclFile: string | undefined;
  if (o.users) {
    passwordFile = join(dir, "passwd");
    writeFileSync(passwordFile, "", { mode: 0o600 });
    for (const [u, p] of Object.entries(o.users)) execFileSync("mosquitto_passwd", ["-b", passwordFile, u, p]);
    chmodSync(passwordFile, 0o644); // throwaway test credentials
  }
  if (o.acl) { aclFile = join(dir, "acl"); writeFileSync(aclFile, o.acl); }
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, mosquittoConf({ port, passwordFile, aclFile, maxPacketSize: o.maxPacketSize, extra: o.extra }));
  let out = "";
  const launch = async (): Promise<ChildProcess> => {
    const proc = spawn(MOSQUITTO_BIN, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d) => { out += d; });
    proc.stderr!.on("data", (d) => { out += d; });
    const exited = new Promise<never>((_, reject) => proc.once("exit", (code) => reject(new FleetError("E_FLEET_CONNECT", `mosquitto exited (${code}): ${out.trim().slice(-400)}`))));
    await Promise.race([waitForPort(port), exited]);
    return proc;
  };
  const m: MosquittoProcess = {
    url: `mqtt://127.0.0.1:${port}`, port, dir, proc: await launch(), log: () => out,
    stop: () => new Promise<void>((resolve) => {
      if (m.proc.exitCode !== null || m.proc.signalCode !== null) { resolve(); return; }
      m.proc.once("exit", () => resolve());
      m.proc.kill("SIGTERM");
    }),
    restart: async () => { await m.stop(); m.proc = await launch(); },
  };
  return m;
}
