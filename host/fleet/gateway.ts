// The gateway: one MQTT connection, the Scheduler, and the topic wiring between them.
import { randomBytes } from "node:crypto";
import { realClock, type Clock } from "./clock.js";
import type { Logger } from "./log.js";
import type { Message } from "./messages.js";
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
}

export class Gateway {
  private closing = false;
  private announce: () => void = () => undefined;

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
    t.on("message", (route, msg) => g.onMessage(route, msg));
    g.announce = () => void t.publish(presence, { kind: "gateway", id, online: true, ts: Date.now() }, 1, true).catch(() => undefined);
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
          // or replaced gateway) would tell every new client that none is online. Say we are.
          if (!m.online && !this.closing) { this.o.log.info(`gateway ${m.id} went offline; announcing ${this.id} again`); this.announce(); }
          return;
      }
    }
    this.o.log.warn(`ignored ${m.kind} on ${route.dir}`);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.scheduler.close();
    await this.transport.farewell(topics.gateway(this.o.fleet, "gateway"), { kind: "gateway", id: this.id, online: false });
    await this.transport.close();
  }
}
