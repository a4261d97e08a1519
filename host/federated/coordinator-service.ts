// The federated coordinator on the fleet: one MQTT connection, the RoundDriver, and the topic
// wiring between them (as host/fleet/gateway.ts is to the Scheduler). It subscribes to every
// trainer's topics (presence, fetches, updates), publishes the retained round announcement and
// each trainer's chunks and verdicts. Its last will closes the announced round, so trainers
// stop waiting for a coordinator that is gone; on every reconnection it announces the open
// round again (a restarted broker has lost the retained one).
import { randomBytes } from "node:crypto";
import type { Clock } from "../fleet/clock.js";
import { realClock } from "../fleet/clock.js";
import type { Logger } from "../fleet/log.js";
import type { Message } from "../fleet/messages.js";
import { checkName, topics, type Route } from "../fleet/topics.js";
import { Transport, type TransportOptions } from "../fleet/transport.js";
import type { Coordinator } from "./coordinator.js";
import type { GlobalModel } from "./global-model.js";
import { RoundDriver, type RoundDriverOptions } from "./round-driver.js";

export interface CoordinatorServiceOptions extends Omit<RoundDriverOptions, "id" | "nonce"> {
  broker: string;
  fleet: string;
  id: string;
  username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs?: number;
  tls?: Pick<TransportOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
  log: Logger;
  clock?: Clock;
}

export class CoordinatorService {
  private closing = false;
  private constructor(readonly driver: RoundDriver, readonly transport: Transport, private readonly o: CoordinatorServiceOptions) {}

  static async start(coordinator: Coordinator, model: GlobalModel, o: CoordinatorServiceOptions): Promise<CoordinatorService> {
    checkName("fleet name", o.fleet);
    checkName("coordinator id", o.id);
    const announce = topics.fed(o.fleet, "round");
    const t = await Transport.connect({
      broker: o.broker, clientId: `edgellm-coord-${o.id}`, username: o.username, password: o.password,
      protocolVersion: o.protocolVersion, connectTimeoutMs: o.connectTimeoutMs, log: o.log, ...o.tls,
      will: { topic: announce, message: { kind: "round", coordinator: o.id, open: false }, retain: true },
    });
    const warn = (what: string) => (e: unknown) => o.log.warn(`${what}: ${(e as Error).message}`);
    const driver = new RoundDriver(coordinator, model, {
      announce: (m) => void t.publish(announce, m, 1, true).catch(warn("announce")),
      toTrainer: (id, m) => void t.publish(topics.fedTo(o.fleet, id, m.kind), m, 1).catch(warn(`to trainer ${id}`)),
    }, o.clock ?? realClock, o.log, { ...o, id: o.id, nonce: randomBytes(8).toString("hex") });
    const s = new CoordinatorService(driver, t, o);
    t.on("message", (route, msg) => s.onMessage(route, msg));
    t.on("connect", () => driver.reannounce());
    // Peers' statuses too: a firmware trainer shares its one MQTT connection (and so its one last
    // will, the offline status) with its task agent, so that status going offline is its trainer
    // going offline. Subscribed after the trainers, so retained statuses arrive after them.
    await t.subscribe([topics.allTrainers(o.fleet), topics.peerStatuses(o.fleet)]);
    o.log.info(`coordinator ${o.id} on ${o.broker}, fleet ${o.fleet}`);
    return s;
  }

  // One handler per kind behind one switch; other kinds are not for the coordinator.
  private onMessage(route: Route, m: Message): void {
    if (this.closing) return;
    if (route.dir === "peer") {
      if (m.kind === "status" && !m.online) this.driver.onTrainer({ v: 1, kind: "trainer", id: route.id, online: false });
      return;
    }
    if (route.dir !== "fedpeer") return;
    const d = this.driver;
    switch (m.kind) {
      case "trainer": d.onTrainer(m); return;
      case "fetch": d.onFetch(route.id, m); return;
      case "update": d.onUpdate(route.id, m); return;
    }
    this.o.log.warn(`ignored ${m.kind} on fedpeer/${route.id}`);
  }

  // Starts rounds: call after attaching listeners to the driver.
  run(): void { this.driver.start(); }

  // Resolves when the run ends (rounds done or budget spent) with the reason.
  finished(): Promise<string> {
    const why = this.driver.finished;
    return why !== null ? Promise.resolve(why) : new Promise((resolve) => this.driver.once("finished", resolve));
  }

  // Leaves the announcement closed (so trainers stop), then disconnects.
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.driver.close();
    await this.transport.farewell(topics.fed(this.o.fleet, "round"), { kind: "round", coordinator: this.o.id, open: false });
    await this.transport.close();
  }
}
