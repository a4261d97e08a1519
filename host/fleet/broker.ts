// The embedded broker: aedes in this process, TCP_NODELAY on every connection, and the packet
// size limit our mosquitto config has. MQTT 3.1.1 only (aedes 1.2.0 refuses MQTT 5), so
// everything that uses it connects with protocol 4.
import { Aedes } from "aedes";
import { createServer, type Server } from "node:net";
import { FleetError } from "./errors.js";
import type { Logger } from "./log.js";
import { watchPacketSizes } from "./packet-guard.js";
import { MAX_PACKET_BYTES } from "./schemas.js";

export interface EmbeddedBroker { url: string; port: number; protocolVersion: 4; close(): Promise<void> }

export async function startEmbeddedBroker(port = 1883, host = "127.0.0.1", log?: Logger): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    watchPacketSizes(socket, MAX_PACKET_BYTES, (remaining) => {
      log?.warn(`embedded broker: closed the connection from ${socket.remoteAddress}:${socket.remotePort}: ${remaining < 0 ? "malformed packet length" : `a packet of ${remaining} bytes is over the ${MAX_PACKET_BYTES}-byte limit`}`);
      socket.destroy();
    });
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new FleetError("E_FLEET_CONFIG", `embedded broker on ${host}:${port}: ${e.code === "EADDRINUSE" ? "port in use" : e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return {
    url: `mqtt://${host}:${bound}`, port: bound, protocolVersion: 4,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); broker.close(); }),
  };
}
