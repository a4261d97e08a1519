// The module's grammar matcher driven from the host: load a compiled grammar into the engine's
// linear memory, set the copy input, and read masks of the model's tokens.
import { check, EngineError } from "../engine/errors.js";
import type { Engine } from "../engine/engine.js";

const INPUT_BYTES = 1024; // raw sentence bytes a call may pass
const E_GRAMMAR_REFUSED = -22; // grammarAdvance refused the token (assembly/core/errors.ts)

export class ModuleGrammar {
  private readonly inputPtr: number;
  private readonly maskPtr: number;

  // Takes the engine's heap: load the model first (resetHeap would free this).
  constructor(private readonly engine: Engine, compiled: Uint8Array) {
    const x = engine.x;
    const ptr = x.alloc(compiled.length);
    new Uint8Array(x.memory.buffer, ptr, compiled.length).set(compiled);
    check(x.grammarLoad(ptr, compiled.length), "grammar");
    this.inputPtr = x.alloc(INPUT_BYTES);
    this.maskPtr = x.alloc(engine.info.vocabSize);
  }

  setInput(sentence: string): void {
    const bytes = new TextEncoder().encode(sentence);
    if (bytes.length > INPUT_BYTES) throw new EngineError("E_ARGUMENT", `grammar input: longer than ${INPUT_BYTES} bytes`);
    new Uint8Array(this.engine.x.memory.buffer, this.inputPtr, bytes.length).set(bytes);
    check(this.engine.x.grammarSetInput(this.inputPtr, bytes.length), "grammar input");
  }

  reset(): void { check(this.engine.x.grammarReset(), "grammar"); }

  mask(): Uint8Array {
    check(this.engine.x.grammarMask(this.maskPtr), "grammar mask");
    return new Uint8Array(this.engine.x.memory.buffer, this.maskPtr, this.engine.info.vocabSize).slice();
  }

  // false when the grammar refuses the token (the state is then unchanged).
  advance(token: number): boolean {
    const r = this.engine.x.grammarAdvance(token);
    if (r === E_GRAMMAR_REFUSED) return false;
    check(r, "grammar advance");
    return true;
  }

  accepting(): boolean { return check(this.engine.x.grammarAccepting(), "grammar") === 1; }
}
