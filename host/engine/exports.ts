// The module's exports (assembly/index.ts), typed. Pointers are byte offsets into memory.
// modelField numbers (assembly/model/fields.ts), append-only.
export const MODEL_FIELD = {
  dim: 0, hiddenDim: 1, nLayers: 2, nHeads: 3, nKvHeads: 4, vocabSize: 5, seqLen: 6, sharedClassifier: 7,
  hasTokenizer: 8, ctx: 9,
} as const;

export interface ModuleExports {
  memory: WebAssembly.Memory;
  ABI_VERSION: WebAssembly.Global;
  alloc(bytes: number): number;
  resetHeap(): void;
  memoryBytes(): number;
  setMemoryLimit(bytes: number): void;
  simdBuild(): number;
  qtypeCount(): number;
  qtypeTensorBytes(qtype: number, rows: number, cols: number, group: number): number;
  modelLoad(ptr: number, len: number): number;
  tokenizerLoad(ptr: number, len: number): number;
  adapterCheck(ptr: number, len: number): number;
  modelInit(ctx: number, kvInt8: number): number;
  modelField(field: number): number;
  forward(token: number, pos: number): number;
  logits(): number;
  samplerInit(temperature: number, topp: number, seedLo: number, seedHi: number): number;
  sample(): number;
  genMaxPromptBytes(): number;
  genStart(prompt: number, nPrompt: number, steps: number): number;
  genNext(nowMs: number): number;
  genCancel(): void;
  adapterLoad(ptr: number, len: number, scale: number): number;
  adapterClear(): void;
  adapterHold(ptr: number, len: number): number;
  adapterHoldExternal(index: number, len: number): number;
  adapterUse(index: number, scale: number): number;
  genConstrain(on: number): number;
  genSetDeadline(atMs: number): void;
  genOutput(): number;
  genOutputLen(): number;
  genPosition(): number;
  genChosen(): number;
  encode(text: number, len: number, bos: number, eos: number, out: number, cap: number): number;
  encodeReference(text: number, len: number, bos: number, eos: number, out: number, cap: number): number;
  decode(prev: number, token: number, out: number, cap: number): number;
  exampleEncode(sentence: number, sLen: number, label: number, lLen: number, out: number, cap: number): number;
  // On-device fine-tuning (assembly/mezo): seeds are u64 as (lo, hi) u32 halves.
  mezoParameters(): number;
  mezoInPlace(): number;
  mezoStep(seedLo: number, seedHi: number, t: number, eps: number, lr: number, batch: number, count: number, out: number): number;
  mezoPick(seedLo: number, seedHi: number, t: number, b: number, n: number): number;
  mezoLoss(batch: number, count: number, out: number): number;
  mezoPerturb(seedLo: number, seedHi: number, t: number, c: number): number;
  adapterReseal(): number;
  // The fleet agent (assembly/agent/, docs/module-abi.md); times are ms since the epoch.
  agentInit(fleet: number, fleetLen: number, id: number, idLen: number, maxQueue: number, heartbeatMs: number, flushMs: number): number;
  agentSetCapabilities(modelId: number, modelIdLen: number, impl: number, implLen: number, tokPerSec: number, freeMem: number): number;
  agentSetNonce(nonce: number, n: number): number;
  agentSubscription(out: number, cap: number): number;
  agentAddAdapter(id: number, idLen: number, heldIndex: number): number;
  agentServeCommands(): number;
  agentWill(topicOut: number, topicCap: number, payloadOut: number, payloadCap: number): number;
  agentConnected(nowMs: number): number;
  agentMessage(topic: number, topicLen: number, payload: number, payloadLen: number, nowMs: number): number;
  agentReason(out: number, cap: number): number;
  agentTick(nowMs: number, maxPositions: number): number;
  agentShutdown(): number;
  agentHeld(): number;
  agentRunning(out: number, cap: number): number;
  grammarLoad(ptr: number, len: number): number;
  grammarLoadExternal(len: number): number;
  grammarSetInput(ptr: number, len: number): number;
  grammarReset(): number;
  grammarMask(out: number): number;
  grammarAdvance(token: number): number;
  grammarAccepting(): number;
}

export type EngineKind = "simd" | "mvp";
