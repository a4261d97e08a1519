// The topic tree as the peer sees it (docs/protocol.md §2, host/fleet/topics.ts): its own
// topics are built here and an inbound topic is parsed here, nowhere else.
//
//   edgellm/v1/<fleet>/peer/<peerId>/<kind>   what the peer publishes
//   edgellm/v1/<fleet>/to/<peerId>/<kind>     its inbox: task, cancel
//   edgellm/v1/<fleet>/fed/round               federated rounds (a peer that trains, §9)
//   edgellm/v1/<fleet>/fedpeer/<peerId>/<kind> what its trainer publishes: trainer, fetch, update
//   edgellm/v1/<fleet>/fedto/<peerId>/<kind>   its trainer's inbox: chunk, ack
import { Writer } from "./writer";
import { FEDERATED } from "./features";

export const ROOT = "edgellm";
export const VERSION_SEGMENT = "v1";
export const MAX_NAME: i32 = 64;
// Longest topic the peer reads (its own inbox is at most 11 + 64 + 4 + 64 + 7 bytes).
export const MAX_TOPIC_BYTES: i32 = 256;

// Inbound kinds (the results of parseInbox).
export const KIND_TASK: i32 = 1;
export const KIND_CANCEL: i32 = 2;
export const KIND_FED_ROUND: i32 = 3;
export const KIND_FED_CHUNK: i32 = 4;
export const KIND_FED_ACK: i32 = 5;

// ^[A-Za-z0-9_-]{1,64}$
export function isName(p: usize, n: i32): bool {
  if (n < 1 || n > MAX_NAME) return false;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

// edgellm/v1/<fleet>/peer/<id>/<kind>
export function writePeerTopic(w: Writer, fleet: usize, fleetLen: i32, id: usize, idLen: i32, kind: string): Writer {
  return w.ascii(ROOT).byte(0x2f).ascii(VERSION_SEGMENT).byte(0x2f).bytes(fleet, fleetLen)
    .ascii("/peer/").bytes(id, idLen).byte(0x2f).ascii(kind);
}

// The peer's subscription: edgellm/v1/<fleet>/to/<id>/+
export function writeInboxFilter(w: Writer, fleet: usize, fleetLen: i32, id: usize, idLen: i32): Writer {
  return w.ascii(ROOT).byte(0x2f).ascii(VERSION_SEGMENT).byte(0x2f).bytes(fleet, fleetLen)
    .ascii("/to/").bytes(id, idLen).ascii("/+");
}

function fleetBase(w: Writer, fleet: usize, fleetLen: i32): Writer {
  return w.ascii(ROOT).byte(0x2f).ascii(VERSION_SEGMENT).byte(0x2f).bytes(fleet, fleetLen);
}

// edgellm/v1/<fleet>/fedpeer/<id>/<kind>
export function writeFedPeerTopic(w: Writer, fleet: usize, fleetLen: i32, id: usize, idLen: i32, kind: string): Writer {
  return fleetBase(w, fleet, fleetLen).ascii("/fedpeer/").bytes(id, idLen).byte(0x2f).ascii(kind);
}

// A trainer's two subscriptions: 0 the announcements (edgellm/v1/<fleet>/fed/round), 1 its
// inbox (edgellm/v1/<fleet>/fedto/<id>/+).
export function writeFedFilter(w: Writer, which: i32, fleet: usize, fleetLen: i32, id: usize, idLen: i32): Writer {
  if (which == 0) return fleetBase(w, fleet, fleetLen).ascii("/fed/round");
  return fleetBase(w, fleet, fleetLen).ascii("/fedto/").bytes(id, idLen).ascii("/+");
}

function eq(p: usize, n: i32, s: string): bool {
  if (n != s.length) return false;
  for (let i = 0; i < n; i++) if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

function eqBytes(p: usize, n: i32, q: usize, m: i32): bool {
  return n == m && memory.compare(p, q, <usize>n) == 0;
}

function oneOf(p: usize, n: i32, dir: i32): bool {
  // dir 0 peer, 1 to, 2 gw, 3 client: the kinds each direction carries.
  if (dir == 0) return eq(p, n, "status") || eq(p, n, "heartbeat") || eq(p, n, "accept") || eq(p, n, "reject") || eq(p, n, "tokens") || eq(p, n, "result");
  if (dir == 1) return eq(p, n, "task") || eq(p, n, "cancel");
  if (dir == 2) return eq(p, n, "submit") || eq(p, n, "cancel") || eq(p, n, "gateway");
  if (FEDERATED) {
    if (dir == 4) return eq(p, n, "trainer") || eq(p, n, "fetch") || eq(p, n, "update");
    if (dir == 5) return eq(p, n, "chunk") || eq(p, n, "ack");
  }
  return eq(p, n, "queued") || eq(p, n, "tokens") || eq(p, n, "reply");
}

// Parses topic[n] as this peer's inbox: KIND_TASK, KIND_CANCEL or a federated kind, else -1 with the reason
// (worded as host/fleet/topics.ts words it) written to `why`. n ≤ MAX_TOPIC_BYTES.
export function parseInbox(t: usize, n: i32, fleet: usize, fleetLen: i32, id: usize, idLen: i32, why: Writer): i32 {
  // Split into at most 7 levels ([start, len] pairs); a seventh means "too many".
  const lv = memory.data(7 * 8);
  let count = 0, s = 0;
  for (let i = 0; i <= n && count < 7; i++) {
    if (i == n || load<u8>(t + <usize>i) == 0x2f) {
      store<i32>(lv + <usize>(count * 8), s);
      store<i32>(lv + <usize>(count * 8 + 4), i - s);
      count++;
      s = i + 1;
    }
  }
  const p0 = t + <usize>load<i32>(lv), n0 = load<i32>(lv, 4);
  if (!eq(p0, n0, ROOT)) { quoteTopic(why, t, n).ascii(" is outside ").ascii(ROOT).byte(0x2f); return -1; }
  const p1 = t + <usize>load<i32>(lv, 8), n1 = count > 1 ? load<i32>(lv, 12) : 0;
  if (count < 2 || !eq(p1, n1, VERSION_SEGMENT)) {
    quoteTopic(why, t, n).ascii(": unsupported protocol version '").bytes(p1, count < 2 ? 0 : n1).byte(0x27);
    return -1;
  }
  const p2 = t + <usize>load<i32>(lv, 16), n2 = count > 2 ? load<i32>(lv, 20) : 0;
  if (count < 3 || !isName(p2, n2)) { quoteTopic(why, t, n).ascii(": bad fleet name"); return -1; }
  const p3 = t + <usize>load<i32>(lv, 24), n3 = count > 3 ? load<i32>(lv, 28) : 0;
  let dir = -1;
  if (eq(p3, n3, "peer")) dir = 0; else if (eq(p3, n3, "to")) dir = 1; else if (eq(p3, n3, "gw")) dir = 2; else if (eq(p3, n3, "client")) dir = 3;
  if (FEDERATED) if (dir < 0) {
    if (eq(p3, n3, "fedpeer")) dir = 4;
    else if (eq(p3, n3, "fedto")) dir = 5;
    else if (eq(p3, n3, "fed")) {
      const p4 = t + <usize>load<i32>(lv, 32), n4 = count > 4 ? load<i32>(lv, 36) : 0;
      if (count != 5 || !eq(p4, n4, "round")) { quoteTopic(why, t, n).ascii(": unknown federated kind"); return -1; }
      if (!eqBytes(p2, n2, fleet, fleetLen)) { quoteTopic(why, t, n).ascii(": not this peer's fleet"); return -1; }
      return KIND_FED_ROUND;
    }
  }
  if (dir == 2) {
    const p4 = t + <usize>load<i32>(lv, 32), n4 = count > 4 ? load<i32>(lv, 36) : 0;
    if (count != 5 || !oneOf(p4, n4, 2)) { quoteTopic(why, t, n).ascii(": unknown gateway kind"); return -1; }
    quoteTopic(why, t, n).ascii(": not a peer inbox (to/<id>/<kind>)");
    return -1;
  }
  const p4 = t + <usize>load<i32>(lv, 32), n4 = count > 4 ? load<i32>(lv, 36) : 0;
  if (count != 6 || !isName(p4, n4)) {
    quoteTopic(why, t, n).ascii(": expected ").bytes(p3, n3).ascii("/<id>/<kind>");
    return -1;
  }
  const p5 = t + <usize>load<i32>(lv, 40), n5 = load<i32>(lv, 44);
  if (dir < 0 || !oneOf(p5, n5, dir)) {
    quoteTopic(why, t, n).ascii(": unknown kind '").bytes(p5, n5).ascii("' under '").bytes(p3, n3).byte(0x27);
    return -1;
  }
  if (dir != 1 && dir != 5) { quoteTopic(why, t, n).ascii(": not a peer inbox (to/<id>/<kind>)"); return -1; }
  if (!eqBytes(p2, n2, fleet, fleetLen) || !eqBytes(p4, n4, id, idLen)) {
    quoteTopic(why, t, n).ascii(": not this peer's inbox");
    return -1;
  }
  if (FEDERATED) { if (dir == 5) return eq(p5, n5, "chunk") ? KIND_FED_CHUNK : KIND_FED_ACK; }
  return eq(p5, n5, "task") ? KIND_TASK : KIND_CANCEL;
}

function quoteTopic(w: Writer, t: usize, n: i32): Writer {
  return w.ascii("topic '").bytes(t, n).byte(0x27);
}
