// The module's ABI: flat exports over i32/f32 values and pointers into linear memory, called
// the same way by the Node host (host/engine) and the wasm3 firmware (firmware/core).
// Negative i32 results are error codes from core/errors.ts. See docs/module-abi.md.
import * as E from "./core/errors";
import { initState, loadModel, loadModelExternal, loadTokenizer, runtime, step } from "./model/runtime";
import { setMemoryCap } from "./core/memory-cap";
import { decode as decodeToken, encode as encodeText } from "./text/tokenizer";
import * as agentApi from "./agent/api";
import * as genApi from "./gen/api";
import * as F from "./model/fields";
import { QT_COUNT, tensorBytes } from "./model/qtypes";
import { parseAdapter } from "./adapter/file";
import { clearAdapters, holdAdapter, holdAdapterExternal, loadAdapter, loadAdapterExternal, useHeld } from "./model/lora";
import * as grammarApi from "./grammar/api";
import * as mezoApi from "./mezo/api";
import { encodeExample } from "./text/example";

export const ABI_VERSION: i32 = 1;

// Memory: a bump allocator (stub runtime). Load order: alloc file → modelLoad → modelInit.
export function alloc(bytes: i32): usize { return heap.alloc(<usize>bytes); }
export function resetHeap(): void { heap.reset(); }
export function memoryBytes(): i32 { return memory.size() << 16; }
export function setMemoryLimit(bytes: i32): void { setMemoryCap(<usize>bytes); }
export function simdBuild(): i32 { return ASC_FEATURE_SIMD ? 1 : 0; }

// The quantization-type table (model/qtypes.ts), so hosts can check theirs against it.
export function qtypeCount(): i32 { return <i32>QT_COUNT; }
// Bytes of a tensor of this type and shape (below 2 GiB), or -1 when the type or shape is invalid.
export function qtypeTensorBytes(qtype: i32, rows: i32, cols: i32, group: i32): i32 {
  const n = tensorBytes(<u32>qtype, rows, cols, group);
  return n < 0 || n > <i64>i32.MAX_VALUE ? -1 : <i32>n;
}

export function modelLoad(ptr: usize, len: i32): i32 { return loadModel(ptr, <usize>len); }
// Firmware: the model file (fileBytes long) stays in host memory, read via env.wRead; its
// matrices are applied by the host (env.wMatvec / env.wRow, assembly/kernels/native.ts).
export function modelLoadExternal(fileBytes: i32): i32 { return loadModelExternal(<usize>fileBytes); }
// Validates an adapter file (docs/adapter-format.md) against the loaded model: the number of
// adapted matrices, or an error. Nothing is kept yet (forward does not apply adapters).
export function adapterCheck(ptr: usize, len: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  if (len < 0) return E.E_ARGUMENT;
  const res = parseAdapter(ptr, <usize>len, rt.config, rt.checksum);
  return res.error != E.OK ? res.error : res.adapter.matrices.length;
}
export function tokenizerLoad(ptr: usize, len: i32): i32 { return loadTokenizer(ptr, <usize>len); }
// An adapter (docs/adapter-format.md) at ptr[len], kept in place by the host, applied at scale
// on the loaded model's matrices from the next forward on; returns its matrix count or an error.
export function adapterLoad(ptr: usize, len: i32, scale: f32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  if (len < 0) return E.E_ARGUMENT;
  return loadAdapter(rt.weights, rt.config, rt.checksum, ptr, <usize>len, scale);
}
// Firmware: adapter `index` (len bytes) stays in host memory (flash), read through env.aRead and
// applied by env.loraApply; otherwise as adapterLoad.
export function adapterLoadExternal(index: i32, len: i32, scale: f32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  if (len < 0 || index < 0) return E.E_ARGUMENT;
  return loadAdapterExternal(rt.weights, rt.config, rt.checksum, <u32>index, <usize>len, scale);
}
// Detaches every adapter (their memory stays taken: the heap never frees).
export function adapterClear(): void { clearAdapters(); }
// Held adapters (a fleet peer's set): checked as adapterLoad and their links built once, but
// not attached; returns the held index (0, 1, …; at most 32) or an error. adapterUse switches.
export function adapterHold(ptr: usize, len: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  if (len < 0) return E.E_ARGUMENT;
  return holdAdapter(rt.weights, rt.config, rt.checksum, ptr, <usize>len);
}
export function adapterHoldExternal(index: i32, len: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  if (len < 0 || index < 0) return E.E_ARGUMENT;
  return holdAdapterExternal(rt.weights, rt.config, rt.checksum, <u32>index, <usize>len);
}
// Detaches every adapter and attaches held adapter `index` at `scale` (-1: none); allocates nothing.
export function adapterUse(index: i32, scale: f32): i32 { return useHeld(index, scale); }
// Firmware: use the host's native kernels where the module has a call for them (attention over
// an int8 KV cache, activation quantization, SwiGLU). Call after modelInit; the Node host never does.
export function nativeKernels(on: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const s = rt.state;
  if (s == null) return E.E_NO_MODEL;
  s.nativeKv = on != 0;
  return E.OK;
}
// Returns the context length actually allocated, or an error.
export function modelInit(ctx: i32, kvInt8: i32): i32 { return initState(ctx, kvInt8 != 0); }

// Config fields by number (model/fields.ts), or E_ARGUMENT for an unknown one.
export function modelField(field: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const c = rt.config;
  switch (field) {
    case F.MF_DIM: return c.dim;
    case F.MF_HIDDEN_DIM: return c.hiddenDim;
    case F.MF_N_LAYERS: return c.nLayers;
    case F.MF_N_HEADS: return c.nHeads;
    case F.MF_N_KV_HEADS: return c.nKvHeads;
    case F.MF_VOCAB_SIZE: return c.vocabSize;
    case F.MF_SEQ_LEN: return c.seqLen;
    case F.MF_SHARED_CLASSIFIER: return c.sharedClassifier ? 1 : 0;
    case F.MF_HAS_TOKENIZER: return rt.tokenizer != null ? 1 : 0;
    case F.MF_CTX: { const s = rt.state; return s != null ? s.ctx : 0; }
    default: return E.E_ARGUMENT;
  }
}

// Runs one position; logits are then at logits().
export function forward(token: i32, pos: i32): i32 { return step(token, pos); }

export function logits(): usize {
  const rt = runtime;
  if (rt == null) return 0;
  const s = rt.state;
  return s != null ? s.logits : 0;
}

export function samplerInit(temperature: f32, topp: f32, seedLo: u32, seedHi: u32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  if (!(temperature >= 0) || !(topp >= 0)) return E.E_ARGUMENT;
  rt.sampler.configure(temperature, topp, (<u64>seedHi << 32) | <u64>seedLo);
  return E.OK;
}

// Samples the next token from the current logits (consumes random numbers when T > 0).
export function sample(): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const s = rt.state;
  if (s == null) return E.E_NO_MODEL;
  return rt.sampler.sample(s.logits);
}

// Generation (gen/generation.ts), a position per genNext: GEN_MORE 0, DONE 1, OVERFLOW 2,
// CANCELLED 3, EXPIRED 4, or an error. The position's bytes are at genOutput()[0, genOutputLen()).
export function genMaxPromptBytes(): i32 { return genApi.maxPromptBytes(); }
export function genStart(prompt: usize, nPrompt: i32, steps: i32): i32 { return genApi.start(prompt, nPrompt, steps); }
export function genNext(nowMs: f64): i32 { return genApi.next(nowMs); }
export function genCancel(): void { genApi.cancel(); }
// 1: from the next genStart, sample only what the loaded grammar allows (docs/grammar.md).
export function genConstrain(on: i32): i32 { return genApi.constrain(on); }
export function genSetDeadline(atMs: f64): void { genApi.setDeadline(atMs); }
export function genOutput(): usize { return genApi.output(); }
export function genOutputLen(): i32 { return genApi.outputLen(); }
export function genPosition(): i32 { return genApi.position(); }
// The token the last position chose (forced, sampled, or BOS, which ends the generation).
export function genChosen(): i32 { return genApi.chosen(); }

export function encode(text: usize, len: i32, bos: i32, eos: i32, out: usize, cap: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const t = rt.tokenizer;
  if (t == null) return E.E_NO_TOKENIZER;
  return encodeText(t, text, len, bos != 0, eos != 0, out, cap);
}

// The same with llama2.c's merge loop at any length: O(n²), no scratch memory. For the tests and
// tools/bench-tokenizer.ts, which compare the heap merging of long texts against it.
export function encodeReference(text: usize, len: i32, bos: i32, eos: i32, out: usize, cap: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const t = rt.tokenizer;
  if (t == null) return E.E_NO_TOKENIZER;
  return encodeText(t, text, len, bos != 0, eos != 0, out, cap, false);
}

// A labelled example's training record at out (cap i32s): [n, from, intentTo, tokens…]
// (text/example.ts); returns n or an error.
export function exampleEncode(sentence: usize, sLen: i32, label: usize, lLen: i32, out: usize, cap: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const t = rt.tokenizer;
  if (t == null) return E.E_NO_TOKENIZER;
  return encodeExample(t, sentence, sLen, label, lLen, out, cap);
}

export function decode(prev: i32, token: i32, out: usize, cap: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const t = rt.tokenizer;
  if (t == null) return E.E_NO_TOKENIZER;
  return decodeToken(t, prev, token, out, cap);
}

// ---- The device side of the fleet protocol (assembly/agent/, docs/protocol.md §4) ----------
// Times are f64 wall-clock milliseconds given by the host on every call: the module reads no
// clock. Outbound messages go through env.mqttPublish, log lines through env.agentLog.

// After modelInit (and tokenizerLoad): names ^[A-Za-z0-9_-]{1,64}$, maxQueue 1..64. Allocates
// every buffer the agent will ever use; call once.
export function agentInit(fleet: usize, fleetLen: i32, id: usize, idLen: i32, maxQueue: i32, heartbeatMs: i32, flushMs: i32): i32 {
  return agentApi.init(fleet, fleetLen, id, idLen, maxQueue, heartbeatMs, flushMs);
}
// What the online status announces (modelId ≤ 128 bytes, impl ≤ 32, UTF-8; freeMem as u32).
export function agentSetCapabilities(modelId: usize, modelIdLen: i32, impl: usize, implLen: i32, tokPerSec: f32, freeMem: i32): i32 {
  return agentApi.setCapabilities(modelId, modelIdLen, impl, implLen, tokPerSec, freeMem);
}
// The filter to subscribe: edgellm/v1/<fleet>/to/<id>/+ (NUL-terminated when there is room).
export function agentSetNonce(nonce: usize, n: i32): i32 { return agentApi.setNonce(nonce, n); }
export function agentSubscription(out: usize, cap: i32): i32 { return agentApi.subscription(out, cap); }
// Held adapter heldIndex (adapterHold) served as id[idLen]: announced in the status, named by tasks.
export function agentAddAdapter(id: usize, idLen: i32, heldIndex: i32): i32 { return agentApi.addAdapter(id, idLen, heldIndex); }
// Serve commands tasks (docs/protocol.md §3 task types) with the grammar grammarLoad loaded.
export function agentServeCommands(): i32 { return agentApi.serveCommands(); }
// Federated MeZO rounds (docs/protocol.md §9): train with `examples` examples read through
// env.exRead (each ≤ textCap bytes), after agentSetNonce, before agentConnected.
export function agentTrainer(examples: i32, textCap: i32): i32 { return agentApi.trainer(examples, textCap); }
// The trainer's filters: 0 edgellm/v1/<fleet>/fed/round, 1 edgellm/v1/<fleet>/fedto/<id>/+.
export function agentTrainerFilter(which: i32, out: usize, cap: i32): i32 { return agentApi.trainerFilter(which, out, cap); }
// The last will: topic (NUL-terminated when there is room) and offline status payload;
// returns (topicLen << 16) | payloadLen.
export function agentWill(topicOut: usize, topicCap: i32, payloadOut: usize, payloadCap: i32): i32 {
  return agentApi.will(topicOut, topicCap, payloadOut, payloadCap);
}
// On every (re)connection, after subscribing: publishes the online status (QoS 1, retained).
export function agentConnected(nowMs: f64): i32 { return agentApi.connected(nowMs); }
// One received message: 0 handled, E_REJECTED (state unchanged; agentReason says why).
export function agentMessage(topic: usize, topicLen: i32, payload: usize, payloadLen: i32, nowMs: f64): i32 {
  return agentApi.message(topic, topicLen, payload, payloadLen, nowMs);
}
// The last rejection's reason (UTF-8) into out[cap]; returns its length.
export function agentReason(out: usize, cap: i32): i32 { return agentApi.reason(out, cap); }
// Runs up to maxPositions positions; 0: more work now, else ms until the next call is due.
export function agentTick(nowMs: f64, maxPositions: i32): i32 { return agentApi.tick(nowMs, maxPositions); }
// Graceful stop: publishes the offline status (QoS 1, retained); the agent takes nothing more.
export function agentShutdown(): i32 { return agentApi.shutdown(); }
// Tasks held (queued + running).
export function agentHeld(): i32 { return agentApi.held(); }
// The running task's id into out[cap]; returns its length, 0 when idle.
export function agentRunning(out: usize, cap: i32): i32 { return agentApi.running(out, cap); }

// Constrained decoding (docs/grammar.md): a compiled grammar at ptr[len] (kept there, like a
// model file); the copy input (a sentence, UTF-8); then per step the mask of allowed tokens
// (out: u8[vocab], returns how many), advance by the chosen token, and whether output may end.
export function grammarLoad(ptr: usize, len: i32): i32 { return len < 0 ? E.E_ARGUMENT : grammarApi.grammarLoad(ptr, <usize>len); }
// The same for a grammar file of len bytes the host holds (flash), read through env.gRead.
export function grammarLoadExternal(len: i32): i32 { return len < 0 ? E.E_ARGUMENT : grammarApi.grammarLoadExternal(<usize>len); }
export function grammarSetInput(ptr: usize, len: i32): i32 { return grammarApi.grammarSetInput(ptr, len); }
export function grammarReset(): i32 { return grammarApi.grammarReset(); }
export function grammarMask(out: usize): i32 { return grammarApi.grammarMask(out); }
export function grammarAdvance(token: i32): i32 { return grammarApi.grammarAdvance(token); }
export function grammarAccepting(): i32 { return grammarApi.grammarAccepting(); }

// ---- On-device fine-tuning: MeZO on the adapter loaded last (mezo/mezo.ts) -----------------
// Its trained parameter count (0: no adapter), 1 when they are the f32 file image itself.
export function mezoParameters(): i32 { return mezoApi.parameters(); }
export function mezoInPlace(): i32 { return mezoApi.inPlace(); }
// Step t on count records at batch; f32 [loss+, loss-, projected gradient] at out.
export function mezoStep(seedLo: u32, seedHi: u32, t: u32, eps: f32, lr: f32, batch: usize, count: i32, out: usize): i32 {
  return mezoApi.step(seedLo, seedHi, t, eps, lr, batch, count, out);
}
// Which of n examples batch slot b of step t trains on (the same order on every host).
export function mezoPick(seedLo: u32, seedHi: u32, t: u32, b: u32, n: i32): i32 { return mezoApi.pick(seedLo, seedHi, t, b, n); }
// The mean loss over the records' trained tokens (f32 at out), the adapter unchanged.
export function mezoLoss(batch: usize, count: i32, out: usize): i32 { return mezoApi.loss(batch, count, out); }
// θ += c·z(seed, t): what a step's update is, replayed from its numbers (seed-and-scalar clients).
export function mezoPerturb(seedLo: u32, seedHi: u32, t: u32, c: f32): i32 { return mezoApi.replay(seedLo, seedHi, t, c); }
// The adapter image with its checksum written anew, after training: its pointer, or an error.
export function adapterReseal(): i32 { return mezoApi.reseal(); }
