// The gateway: one MQTT connection, the Scheduler, and the topic wiring between them.
import { randomBytes } from "node:crypto";
import { realClock, type Clock } from "./clock.js";
import type { Logger } from "./log.js";
import type { Message } from "./messages.js";
import { PresenceGuard } from "./presence.js";
import { DEFAULT_SCHEDULER, Scheduler, type SchedulerOptions } from "./scheduler.js";
import { checkName, topics, type Route } from "./topics.js";
import { Transport, type TransportOptions } from "./transport.js";

export interface GatewayOptions {
  broker: string;
  fleet: string;
  id?: string;
  scheduler?: Partial<SchedulerOptions>;
  maxInflight?: number;
  username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs?: number;
  tls?: Pick<TransportOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
  log: Logger;
  clock?: Clock;
  onStop?: (why: string) => void; // the gateway stopped itself (another process with its id and fleet)
}

export class Gateway {
  private closing = false;
  private announce: () => void = () => undefined;
  private guard: PresenceGuard | null = null;

  private constructor(readonly id: string, private readonly o: GatewayOptions, readonly transport: Transport, readonly scheduler: Scheduler) {}

  static async start(o: GatewayOptions): Promise<Gateway> {
    checkName("fleet name", o.fleet);
    const id = checkName("gateway id", o.id ?? `gw-${randomBytes(4).toString("hex")}`);
    const presence = topics.gateway(o.fleet, "gateway");
    const t = await Transport.connect({
      broker: o.broker, clientId: `edgellm-${id}`, username: o.username, password: o.password,
      protocolVersion: o.protocolVersion, connectTimeoutMs: o.connectTimeoutMs, maxInflight: o.maxInflight, log: o.log, ...o.tls,
      will: { topic: presence, message: { kind: "gateway", id, online: false }, retain: true },
    });
    const fleet = o.fleet;
    const sched = new Scheduler({
      toPeer: (peer, m) => void t.publish(topics.toPeer(fleet, peer, m.kind), m, 1).catch((e) => o.log.warn(`to ${peer}: ${(e as Error).message}`)),
      toClient: (client, m) => void t.publish(topics.client(fleet, client, m.kind), m, m.kind === "tokens" ? 0 : 1).catch((e) => o.log.warn(`to client ${client}: ${(e as Error).message}`)),
    }, o.clock ?? realClock, o.log, { ...DEFAULT_SCHEDULER, ...o.scheduler });
    const g = new Gateway(id, o, t, sched);
    const clock = o.clock ?? realClock;
    const nonce = randomBytes(8).toString("hex"), since = clock.now();
    g.guard = new PresenceGuard(nonce, since, clock, {
      restore: (why) => { o.log.warn(`gateway ${id}: ${why}`); g.announce(); },
      stop: () => {
        const why = `another gateway of fleet ${fleet} connected first and is online (one gateway per fleet)`;
        o.log.error(`gateway ${id}: ${why}: stopping`);
        void g.close().then(() => o.onStop?.(why));
      },
    });
    t.on("message", (route, msg) => g.onMessage(route, msg));
    t.on("invalid", (topic) => { if (topic === presence) g.guard?.observe(null); });
    g.announce = () => void t.publish(presence, { kind: "gateway", id, online: true, ts: clock.now(), nonce, since }, 1, true).catch(() => undefined);
    t.on("connect", () => g.announce());
    await t.subscribe([topics.allPeers(fleet), topics.gatewayInbox(fleet)]);
    g.announce();
    o.log.info(`gateway ${id} on ${o.broker}, fleet ${fleet}`);
    return g;
  }

  // One handler per kind behind one switch; messages meant for others are ignored.
  private onMessage(route: Route, m: Message): void {
    const s = this.scheduler;
    if (route.dir === "peer") {
      switch (m.kind) {
        case "status": s.onStatus(m); return;
        case "heartbeat": s.onHeartbeat(route.id, m); return;
        case "accept": s.onAccept(route.id, m); return;
        case "reject": s.onReject(route.id, m); return;
        case "tokens": s.onTokens(route.id, m); return;
        case "result": s.onResult(route.id, m); return;
      }
    } else if (route.dir === "gw") {
      switch (m.kind) {
        case "submit": s.onSubmit(m); return;
        case "cancel": s.onClientCancel(m); return;
        case "gateway":
          // The fleet's presence is one retained message: another gateway's last will (a crashed
          // or replaced gateway), garbage or another process's presence would tell every new
          // client that none is online. The guard restores ours (presence.ts).
          if (!this.closing) this.guard?.observe(m);
          return;
      }
    }
    this.o.log.warn(`ignored ${m.kind} on ${route.dir}`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.guard?.close();
    this.scheduler.close();
    await this.transport.farewell(topics.gateway(this.o.fleet, "gateway"), { kind: "gateway", id: this.id, online: false });
    await this.transport.close();
  }
}
