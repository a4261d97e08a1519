import { CodedError } from "../coded-error.js";

// The fleet's one error type: a stable code plus a one-line message (the CLI prints it as is).
export type FleetErrorCode =
  | "E_FLEET_CONFIG"      // bad option (broker URL, id, limits)
  | "E_FLEET_CONNECT"     // broker unreachable or refused the connection
  | "E_FLEET_MESSAGE"     // a message failed size, JSON, version, kind or schema checks
  | "E_FLEET_TOPIC"       // a topic outside the protocol's tree
  | "E_FLEET_TIMEOUT"     // no answer in time (no gateway, no peers)
  | "E_FLEET_TASK"        // a task ended in failure, cancellation or expiry
  | "E_FLEET_ENGINE"      // a peer's engine worker died
  | "E_FLEET_DUPLICATE"   // another process is online with this peer id (or a second gateway for the fleet)
  | "E_FLEET_CLOSED";     // used after close()

export class FleetError extends CodedError<FleetErrorCode> {}
