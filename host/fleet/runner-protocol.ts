// Messages between a peer and its worker thread (runner.ts ↔ runner-worker.ts). The worker owns
// the Engine and the module's fleet agent; the main thread owns the MQTT connection.

export interface AgentConfig {
  fleet: string;
  id: string;
  maxQueue: number;
  heartbeatMs: number;
  flushMs: number;
  modelId: string;
  impl: string;
  nonce: string; // this process's presence nonce (16 hex digits): tells its status from another's with the same id
}

export interface RunnerInit {
  modelBytes: Uint8Array;
  adapters: { id: string; bytes: Uint8Array }[]; // held by the engine, announced, switched per task
  commandGrammar?: Uint8Array;                   // compiled home-command grammar: serve commands tasks
  engine: "simd" | "mvp";
  kvInt8: boolean;
  agent: AgentConfig;
}

// Main thread → worker.
export type RunnerIn =
  | { type: "message"; topic: string; payload: Uint8Array }   // received on the inbox, as is
  | { type: "connected" }                                     // (re)connected and subscribed
  | { type: "offline" }
  | { type: "shutdown" };                                     // graceful stop

// Worker → main thread.
export type RunnerOut =
  | { type: "ready"; tokPerSec: number; ctx: number; vocab: number; memoryBytes: number; subscription: string; willTopic: string; willPayload: Uint8Array }
  | { type: "publish"; topic: string; payload: Uint8Array; flags: number } // env.mqttPublish
  | { type: "log"; line: string }                                          // env.agentLog
  | { type: "started"; taskId: string }                                    // the agent began running a task
  | { type: "held"; held: number }                                         // tasks held changed
  | { type: "shutdown" }                                                   // agentShutdown returned
  | { type: "fatal"; error: string };
