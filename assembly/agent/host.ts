// What the agent needs from its host (docs/module-abi.md): an MQTT publish and a log line. The
// clock is not an import: every call that needs the time is given it (tests pass a fake one).

// Publishes payload[payloadLen] on topic[topicLen]; flags bit 0-1 QoS (0/1), bit 2 retain.
// 0 queued, -1 not connected (ignored: the gateway's leases re-derive anything lost).
// @ts-ignore: decorator
@external("env", "mqttPublish")
export declare function mqttPublish(topic: usize, topicLen: i32, payload: usize, payloadLen: i32, flags: i32): i32;

// One UTF-8 log line.
// @ts-ignore: decorator
@external("env", "agentLog")
export declare function agentLog(msg: usize, len: i32): void;

// A trainer's example `index` (agentTrainer: 0 … count-1): its sentence then its label, UTF-8,
// written to out[cap]; returns (sentenceBytes << 16) | labelBytes, or -1 (no such example, or
// it does not fit). The examples stay with the host (a file in flash): one is read per use.
// @ts-ignore: decorator
@external("env", "exRead")
export declare function exRead(index: i32, out: usize, cap: i32): i32;

export const QOS0: i32 = 0;
export const QOS1: i32 = 1;
export const RETAIN: i32 = 4;
