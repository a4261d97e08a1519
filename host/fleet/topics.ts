// The topic tree, built and parsed here and nowhere else (docs/protocol.md §2).
//
//   edgellm/v1/<fleet>/peer/<peerId>/<kind>     peer → gateway, clients   (status, heartbeat, accept, reject, tokens, result)
//   edgellm/v1/<fleet>/to/<peerId>/<kind>       gateway → one peer        (task, cancel)
//   edgellm/v1/<fleet>/gw/<kind>                client → gateway          (submit, cancel); gateway presence (gateway)
//   edgellm/v1/<fleet>/client/<clientId>/<kind> gateway → one client      (queued, tokens, reply)
//   edgellm/v1/<fleet>/fed/<kind>                coordinator → trainers    (round)               federated rounds (§9)
//   edgellm/v1/<fleet>/fedpeer/<peerId>/<kind>   trainer → coordinator     (trainer, fetch, update)
//   edgellm/v1/<fleet>/fedto/<peerId>/<kind>     coordinator → one trainer (chunk, ack)
import { FleetError } from "./errors.js";

export const ROOT = "edgellm";
export const VERSION_SEGMENT = "v1";
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const PEER_KINDS = ["status", "heartbeat", "accept", "reject", "tokens", "result"] as const;
export const TO_PEER_KINDS = ["task", "cancel"] as const;
export const GATEWAY_KINDS = ["submit", "cancel", "gateway"] as const;
export const CLIENT_KINDS = ["queued", "tokens", "reply"] as const;
export const FED_KINDS = ["round"] as const;
export const FEDPEER_KINDS = ["trainer", "fetch", "update"] as const;
export const FEDTO_KINDS = ["chunk", "ack"] as const;

export type PeerKind = (typeof PEER_KINDS)[number];
export type ToPeerKind = (typeof TO_PEER_KINDS)[number];
export type GatewayKind = (typeof GATEWAY_KINDS)[number];
export type ClientKind = (typeof CLIENT_KINDS)[number];
export type FedKind = (typeof FED_KINDS)[number];
export type FedPeerKind = (typeof FEDPEER_KINDS)[number];
export type FedToKind = (typeof FEDTO_KINDS)[number];

export type Route =
  | { fleet: string; dir: "peer"; id: string; kind: PeerKind }
  | { fleet: string; dir: "to"; id: string; kind: ToPeerKind }
  | { fleet: string; dir: "gw"; kind: GatewayKind }
  | { fleet: string; dir: "client"; id: string; kind: ClientKind }
  | { fleet: string; dir: "fed"; kind: FedKind }
  | { fleet: string; dir: "fedpeer"; id: string; kind: FedPeerKind }
  | { fleet: string; dir: "fedto"; id: string; kind: FedToKind };

export function checkName(what: string, name: string): string {
  if (!NAME_PATTERN.test(name)) throw new FleetError("E_FLEET_CONFIG", `${what} must be 1-64 characters of A-Z a-z 0-9 _ -, got '${name}'`);
  return name;
}

const base = (fleet: string) => `${ROOT}/${VERSION_SEGMENT}/${checkName("fleet name", fleet)}`;

export const topics = {
  peer: (fleet: string, id: string, kind: PeerKind) => `${base(fleet)}/peer/${checkName("peer id", id)}/${kind}`,
  toPeer: (fleet: string, id: string, kind: ToPeerKind) => `${base(fleet)}/to/${checkName("peer id", id)}/${kind}`,
  gateway: (fleet: string, kind: GatewayKind) => `${base(fleet)}/gw/${kind}`,
  client: (fleet: string, id: string, kind: ClientKind) => `${base(fleet)}/client/${checkName("client id", id)}/${kind}`,
  fed: (fleet: string, kind: FedKind) => `${base(fleet)}/fed/${kind}`,
  fedPeer: (fleet: string, id: string, kind: FedPeerKind) => `${base(fleet)}/fedpeer/${checkName("peer id", id)}/${kind}`,
  fedTo: (fleet: string, id: string, kind: FedToKind) => `${base(fleet)}/fedto/${checkName("peer id", id)}/${kind}`,
  // Subscription filters.
  allPeers: (fleet: string) => `${base(fleet)}/peer/+/+`,
  peerStatuses: (fleet: string) => `${base(fleet)}/peer/+/status`,
  peerInbox: (fleet: string, id: string) => `${base(fleet)}/to/${checkName("peer id", id)}/+`,
  gatewayInbox: (fleet: string) => `${base(fleet)}/gw/+`,
  clientInbox: (fleet: string, id: string) => `${base(fleet)}/client/${checkName("client id", id)}/+`,
  allTrainers: (fleet: string) => `${base(fleet)}/fedpeer/+/+`,
  trainerInbox: (fleet: string, id: string) => `${base(fleet)}/fedto/${checkName("peer id", id)}/+`,
};

const has = <T extends string>(list: readonly T[], s: string): s is T => (list as readonly string[]).includes(s);

// Parses a topic of the tree; a reason string for anything else (other versions included).
export function parseTopic(topic: string): Route | string {
  const s = topic.split("/");
  if (s[0] !== ROOT) return `topic '${topic}' is outside ${ROOT}/`;
  if (s[1] !== VERSION_SEGMENT) return `topic '${topic}': unsupported protocol version '${s[1]}'`;
  const fleet = s[2];
  if (fleet === undefined || !NAME_PATTERN.test(fleet)) return `topic '${topic}': bad fleet name`;
  const dir = s[3];
  if (dir === "gw") {
    if (s.length !== 5 || !has(GATEWAY_KINDS, s[4])) return `topic '${topic}': unknown gateway kind`;
    return { fleet, dir, kind: s[4] };
  }
  if (dir === "fed") {
    if (s.length !== 5 || !has(FED_KINDS, s[4])) return `topic '${topic}': unknown federated kind`;
    return { fleet, dir, kind: s[4] };
  }
  if (s.length !== 6 || !NAME_PATTERN.test(s[4])) return `topic '${topic}': expected ${dir}/<id>/<kind>`;
  const id = s[4], kind = s[5];
  if (dir === "peer" && has(PEER_KINDS, kind)) return { fleet, dir, id, kind };
  if (dir === "to" && has(TO_PEER_KINDS, kind)) return { fleet, dir, id, kind };
  if (dir === "client" && has(CLIENT_KINDS, kind)) return { fleet, dir, id, kind };
  if (dir === "fedpeer" && has(FEDPEER_KINDS, kind)) return { fleet, dir, id, kind };
  if (dir === "fedto" && has(FEDTO_KINDS, kind)) return { fleet, dir, id, kind };
  return `topic '${topic}': unknown kind '${kind}' under '${dir}'`;
}
