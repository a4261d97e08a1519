// Watches the MQTT packets a client sends and reports the first one longer than a limit as soon
// as its fixed header arrives. aedes has no packet size limit: without this, one client's
// 200 MB publish is buffered whole before anything can refuse it.
import type { Socket } from "node:net";

// tooBig gets the packet's declared remaining length, or -1 for a malformed length field.
export function watchPacketSizes(socket: Socket, maxPacketBytes: number, tooBig: (remaining: number) => void): void {
  let skip = 0;                 // body bytes of the current packet still to come
  let header: number[] = [];    // the current fixed header (type byte, length bytes) so far
  const onData = (chunk: Buffer) => {
    for (let i = 0; i < chunk.length;) {
      if (skip > 0) { const n = Math.min(skip, chunk.length - i); skip -= n; i += n; continue; }
      header.push(chunk[i++]);
      if (header.length === 1) continue;
      if (header[header.length - 1] & 0x80) {
        if (header.length === 5) { stop(-1); return; } // the length field has at most 4 bytes
        continue;
      }
      let remaining = 0; // little-endian base-128 digits
      for (let k = header.length - 1; k >= 1; k--) remaining = remaining * 128 + (header[k] & 0x7f);
      const total = header.length + remaining;
      header = [];
      if (total > maxPacketBytes) { stop(remaining); return; }
      skip = remaining;
    }
  };
  const stop = (remaining: number) => { socket.removeListener("data", onData); tooBig(remaining); };
  socket.on("data", onData);
}
