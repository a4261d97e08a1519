// Finds and instantiates the compiled module (build/edgellm.simd.wasm or build/edgellm.wasm).
import * as loader from "@assemblyscript/loader";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EngineError } from "./errors.js";
import type { EngineKind, ModuleExports } from "./exports.js";

// dist/host/engine → project root
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function modulePath(kind: EngineKind): string {
  return join(PROJECT_ROOT, "build", kind === "simd" ? "edgellm.simd.wasm" : "edgellm.wasm");
}

const compiled = new Map<EngineKind, WebAssembly.Module>();

// The fleet agent's imports (assembly/agent/host.ts): a peer links real ones (host/fleet/
// runner-worker.ts); everything else gets these, and never starts the agent.
export interface AgentHost {
  // flags: bit 0-1 QoS, bit 2 retain; 0 queued, -1 not connected.
  publish(topic: Uint8Array, payload: Uint8Array, flags: number): number;
  log(line: string): void;
}

const noAgentHost: AgentHost = { publish: () => -1, log: () => undefined };

export function instantiate(kind: EngineKind, agentHost: AgentHost = noAgentHost): ModuleExports {
  let mod = compiled.get(kind);
  if (!mod) {
    const path = modulePath(kind);
    if (!existsSync(path)) throw new EngineError("E_NO_BUILD", `${path} is missing: run npm run build`);
    mod = new WebAssembly.Module(readFileSync(path));
    compiled.set(kind, mod);
  }
  let memory: WebAssembly.Memory | undefined;
  const bytes = (ptr: number, len: number) => new Uint8Array(memory!.buffer, ptr, len);
  const imports = {
    env: {
      // Copies: the agent reuses its buffers as soon as the call returns.
      mqttPublish(topic: number, topicLen: number, payload: number, payloadLen: number, flags: number): number {
        return agentHost.publish(bytes(topic, topicLen).slice(), bytes(payload, payloadLen).slice(), flags);
      },
      agentLog(msg: number, len: number): void { agentHost.log(Buffer.from(bytes(msg, len)).toString("utf8")); },
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw new EngineError("E_ABORT", `module aborted at ${line}:${col}`);
      },
      // Host-held weights (assembly/kernels/native.ts) are a firmware feature: modelLoad keeps
      // every weight in linear memory, so the module never calls these under Node.
      wRead(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held weights are not available in Node"); },
      wMatvec(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held weights are not available in Node"); },
      wMatmul(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held weights are not available in Node"); },
      wRow(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held weights are not available in Node"); },
      aRead(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held adapters are not available in Node"); },
      loraApply(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held adapters are not available in Node"); },
      loraApplyBlock(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held adapters are not available in Node"); },
      // Host-held grammars (grammarLoadExternal) are the firmware's too: Node loads them into linear memory.
      gRead(): never { throw new EngineError("E_NO_HOST_WEIGHTS", "host-held grammars are not available in Node"); },
      // A federated trainer's examples (agentTrainer): the firmware's; Node trains with host/federated.
      exRead(): number { return -1; },
      // Native attention kernels: only called after nativeKernels(1), which Node never sets.
      kvScores(): never { throw new EngineError("E_NO_NATIVE", "native kernels are not available in Node"); },
      kvMix(): never { throw new EngineError("E_NO_NATIVE", "native kernels are not available in Node"); },
      kvHead(): never { throw new EngineError("E_NO_NATIVE", "native kernels are not available in Node"); },
      quantizeActs(): never { throw new EngineError("E_NO_NATIVE", "native kernels are not available in Node"); },
      swiglu(): never { throw new EngineError("E_NO_NATIVE", "native kernels are not available in Node"); },
    },
  };
  const instance = loader.instantiateSync<Record<string, unknown>>(mod, imports);
  const x = instance.exports as unknown as ModuleExports;
  memory = x.memory;
  return x;
}
