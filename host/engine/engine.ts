// Typed wrapper over one module instance holding one model.
import { check, EngineError } from "./errors.js";
import { MODEL_FIELD, type EngineKind, type ModuleExports } from "./exports.js";
import { instantiate, type AgentHost } from "./module.js";

export interface EngineOptions {
  engine?: EngineKind;
  ctx?: number;         // positions of KV cache to allocate (default: the model's seq_len)
  kvInt8?: boolean;     // int8 KV cache
  memoryLimit?: number; // refuse to grow linear memory past this many bytes (0: no limit)
  agentHost?: AgentHost; // the fleet agent's publish and log (host/fleet/runner-worker.ts)
}

export interface EngineModelInfo {
  dim: number; hiddenDim: number; nLayers: number; nHeads: number; nKvHeads: number;
  vocabSize: number; seqLen: number; sharedClassifier: boolean; hasTokenizer: boolean; ctx: number;
}

const PIECE_CAP = 1024;

export class Engine {
  readonly kind: EngineKind;
  readonly x: ModuleExports;
  private pieceBuf = 0;
  private scratchPtr = 0;
  private scratchBytes = 0;
  info!: EngineModelInfo;

  private constructor(kind: EngineKind, x: ModuleExports) {
    this.kind = kind;
    this.x = x;
  }

  // modelBytes: an edgellm model file; tokenizer: llama2.c tokenizer.bin when the file has none.
  static load(modelBytes: Uint8Array, tokenizer: Uint8Array | undefined, o: EngineOptions = {}): Engine {
    const e = new Engine(o.engine ?? "simd", instantiate(o.engine ?? "simd", o.agentHost));
    if (o.memoryLimit) e.x.setMemoryLimit(o.memoryLimit);
    const ptr = e.copyIn(modelBytes);
    check(e.x.modelLoad(ptr, modelBytes.length), "model");
    if (tokenizer) check(e.x.tokenizerLoad(e.copyIn(tokenizer), tokenizer.length), "tokenizer");
    check(e.x.modelInit(o.ctx ?? 0, o.kvInt8 ? 1 : 0), "run state");
    e.pieceBuf = e.x.alloc(PIECE_CAP);
    const f = (name: keyof typeof MODEL_FIELD) => e.x.modelField(MODEL_FIELD[name]);
    e.info = {
      dim: f("dim"), hiddenDim: f("hiddenDim"), nLayers: f("nLayers"), nHeads: f("nHeads"), nKvHeads: f("nKvHeads"),
      vocabSize: f("vocabSize"), seqLen: f("seqLen"), sharedClassifier: f("sharedClassifier") === 1,
      hasTokenizer: f("hasTokenizer") === 1, ctx: f("ctx"),
    };
    return e;
  }

  // Copies bytes into fresh linear memory; the pointer stays valid for the module's life.
  copyIn(bytes: Uint8Array): number {
    const ptr = this.x.alloc(Math.max(bytes.length, 1));
    if (ptr === 0) throw new EngineError("E_OUT_OF_MEMORY", "linear memory could not grow");
    new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  }

  get memoryBytes(): number { return this.x.memoryBytes(); }

  // A reusable buffer of at least `bytes`: the module's bump allocator cannot free, so a
  // long-lived engine (a fleet peer) reuses one region and only grows it geometrically.
  private scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      this.scratchBytes = Math.max(bytes, 2 * this.scratchBytes, 4096);
      this.scratchPtr = this.x.alloc(this.scratchBytes);
      if (this.scratchPtr === 0) throw new EngineError("E_OUT_OF_MEMORY", "linear memory could not grow");
    }
    return this.scratchPtr;
  }

  // reference: llama2.c's O(n²) merge loop whatever the length (tests, benchmarks).
  encode(text: string, bos: boolean, eos: boolean, reference = false): Int32Array {
    const { ptr, n } = this.encodeInPlace(text, bos, eos, reference);
    return new Int32Array(this.x.memory.buffer.slice(ptr, ptr + 4 * n));
  }

  // The tokens left in the scratch: i32 [n] at ptr.
  private encodeInPlace(text: string, bos: boolean, eos: boolean, reference = false): { ptr: number; n: number } {
    const bytes = new TextEncoder().encode(text);
    const cap = bytes.length + 3;
    const textBytes = (bytes.length + 15) & ~15;
    const tp = this.scratch(textBytes + cap * 4);
    new Uint8Array(this.x.memory.buffer, tp, bytes.length).set(bytes);
    const out = tp + textBytes;
    const n = check((reference ? this.x.encodeReference : this.x.encode)(tp, bytes.length, bos ? 1 : 0, eos ? 1 : 0, out, cap), "encode");
    return { ptr: out, n };
  }

  // A labelled example as both trainers see it (assembly/text/example.ts): `SENTENCE\nLABEL\n`
  // with BOS; from: the first token trained on (the label's); intentTo: first token past the intent.
  example(sentence: string, label: string): { tokens: Int32Array; from: number; intentTo: number } {
    const s = new TextEncoder().encode(sentence), l = new TextEncoder().encode(label);
    const cap = 3 + s.length + l.length + 5, textBytes = (s.length + l.length + 15) & ~15;
    const p = this.scratch(textBytes + 4 * cap);
    const mem = () => new Uint8Array(this.x.memory.buffer);
    mem().set(s, p);
    mem().set(l, p + s.length);
    const rec = p + textBytes;
    check(this.x.exampleEncode(p, s.length, p + s.length, l.length, rec, cap), "example");
    const r = new Int32Array(this.x.memory.buffer, rec, 3 + new Int32Array(this.x.memory.buffer, rec, 1)[0]);
    return { tokens: r.slice(3), from: r[1], intentTo: r[2] };
  }

  decode(prev: number, token: number): Uint8Array {
    const n = check(this.x.decode(prev, token, this.pieceBuf, PIECE_CAP), "decode");
    return new Uint8Array(this.x.memory.buffer, this.pieceBuf, n).slice();
  }

  setSampler(temperature: number, topp: number, seed: bigint): void {
    check(this.x.samplerInit(temperature, topp, Number(seed & 0xffffffffn), Number((seed >> 32n) & 0xffffffffn)), "sampler");
  }

  forward(token: number, pos: number): Float32Array {
    check(this.x.forward(token, pos), "forward");
    return new Float32Array(this.x.memory.buffer, this.x.logits(), this.info.vocabSize);
  }

  // An adapter file's bytes, applied at `scale` from the next forward on (check them with the
  // TypeScript reader first for errors that name the files); returns its matrix count.
  loadAdapter(bytes: Uint8Array, scale: number): number {
    return check(this.x.adapterLoad(this.copyIn(bytes), bytes.length, scale), "adapter");
  }

  // An adapter held detached for switching (a fleet peer's set): its bytes copied in once and its
  // links built once; returns its held index for useAdapter.
  holdAdapter(bytes: Uint8Array): number {
    return check(this.x.adapterHold(this.copyIn(bytes), bytes.length), "adapter");
  }

  // Detaches every adapter, then attaches held adapter `index` at `scale` (-1: none); allocates nothing.
  useAdapter(index: number, scale: number): void {
    check(this.x.adapterUse(index, scale), "adapter");
  }

  // Forward at pos, then the forced token or a sampled one (one position, outside any
  // generation: tests and probes of the forward pass).
  step(token: number, pos: number, forced: number): number {
    check(this.x.forward(token, pos), "forward");
    return forced >= 0 ? forced : check(this.x.sample(), "sample");
  }

  // Tokenizes a prompt (BOS first) into the engine's scratch and starts the module's generation
  // over it (gen/generation.ts); the sampler is the caller's to configure. Returns the prompt's
  // token count. The tokens stay in the scratch, so no other encode() until the generation ends.
  startGeneration(prompt: string | Int32Array, steps: number): number {
    let ptr: number, n: number;
    if (typeof prompt === "string") {
      const bytes = Buffer.byteLength(prompt, "utf8"), max = check(this.x.genMaxPromptBytes(), "generation");
      if (bytes > max) throw new EngineError("E_PROMPT_TOO_LONG", `prompt is ${bytes} bytes; at most ${max} fit a context of ${this.info.ctx} positions`);
      ({ ptr, n } = this.encodeInPlace(prompt, true, false));
    } else {
      n = prompt.length;
      ptr = this.scratch(4 * n);
      new Int32Array(this.x.memory.buffer, ptr, n).set(prompt);
    }
    check(this.x.genStart(ptr, n, steps), "generation");
    return n;
  }

  // Runs one position of the generation: the status (GEN_* of gen/generation.ts) and the bytes
  // the position output (a view, valid until the next call).
  nextPosition(nowMs = 0): { status: number; piece: Uint8Array } {
    const status = check(this.x.genNext(nowMs), "generation");
    return { status, piece: new Uint8Array(this.x.memory.buffer, this.x.genOutput(), this.x.genOutputLen()) };
  }
}
