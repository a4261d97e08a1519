// The student config of `edgellm distill` (a small JSON file): shape, initialization,
// quantization-aware training, loss and schedule. parseStudentConfig names every bad field.
import type { ModelConfig } from "../format/spec.js";
import { configProblems } from "../format/spec.js";
import type { TableQuant, TrainQuant } from "./net.js";
import { TERNARY_FORMATS, ternaryFormatProblem, type TernaryFormat } from "../format/convert.js";

export type LossKind = "ce" | "forward-kl" | "reverse-kl";
export const LOSS_IDS: Record<LossKind, number> = { ce: 0, "forward-kl": 1, "reverse-kl": 2 };

export interface StudentConfig {
  dim: number; hiddenDim: number; nLayers: number; nHeads: number; nKvHeads: number;
  seqLen: number;           // training window and the output file's context length
  init: "teacher" | "random";
  repeatedLayers: "copy" | "identity"; // a teacher layer named again in initLayers: another copy, or one
                            // that starts as the identity (wo, w2 zeroed: Net2Net's deeper)
  initLayers: number[];     // teacher layer copied into each student layer (init "teacher"; FFN
                            // neurons pruned or split to the student's width, KV heads merged;
                            // a dim k times the teacher's repeats its channels and heads k times)
  quant: TrainQuant;        // "ternary": BitNet b1.58 QAT; "int8"; "q4" (int4); "f32"
  attentionQuant: TrainQuant; // wq, wk, wv, wo: mixed precision when it differs from "quant" (default: "quant")
  quantRamp: number;        // steps over which the quantized weights blend in from the latent f32 ones (0: off)
  embedding: TableQuant;    // embedding / tied classifier of a quantized student: "int8", "q4" or "ternary" (QAT too)
  ternaryFormat: TernaryFormat; // layout of the ternary matrices in the output file: "t2" or "t5" (denser)
  loss: LossKind;
  temperature: number;      // distillation temperature T
  alpha: number;            // loss = α·T²·KL + (1−α)·CE
  hiddenWeight: number;     // layer-wise hidden-state MSE weight (0: off; needs dim = teacher dim)
  sparsity: number;         // gradual magnitude pruning: fraction of each layer-matrix row zeroed
  pruneHeads: number;       // attention heads per layer pruned at the start (smallest ‖wo_:,h‖)
  pruneStart: number; pruneEnd: number; // steps over which sparsity ramps up (end: half the steps)
  steps: number; batch: number;
  lr: number; minLr: number; warmup: number; weightDecay: number; gradClip: number;
  corpusTokens: number;     // tokens of text sampled from the teacher
  sampleTemperature: number; sampleTopp: number;
  seed: number;
  workers: number;          // data-parallel worker threads (1 = in-process)
  logEvery: number; checkpointEvery: number;
}

export const DEFAULTS: Omit<StudentConfig, "dim" | "hiddenDim" | "nLayers" | "nHeads" | "nKvHeads"> = {
  seqLen: 128, init: "random", initLayers: [], repeatedLayers: "copy", quant: "ternary", attentionQuant: "ternary", quantRamp: 0, embedding: "int8", ternaryFormat: "t2", loss: "forward-kl", temperature: 1, alpha: 1,
  hiddenWeight: 0, sparsity: 0, pruneHeads: 0, pruneStart: 0, pruneEnd: 0, steps: 1000, batch: 8, lr: 2e-3, minLr: 2e-4, warmup: 50, weightDecay: 0.01, gradClip: 1,
  corpusTokens: 200000, sampleTemperature: 1, sampleTopp: 1, seed: 1, workers: 1, logEvery: 25, checkpointEvery: 200,
};

export class ConfigError extends Error {
  readonly code = "E_CONFIG";
  constructor(message: string) { super(message); this.name = "ConfigError"; }
}

type Rule = [key: keyof StudentConfig, kind: "int" | "num" | "enum" | "ints", min?: number, max?: number, values?: readonly string[]];
const RULES: Rule[] = [
  ["dim", "int", 2, 4096], ["hiddenDim", "int", 1, 16384], ["nLayers", "int", 1, 64], ["nHeads", "int", 1, 256],
  ["nKvHeads", "int", 1, 256], ["seqLen", "int", 2, 4096], ["init", "enum", 0, 0, ["teacher", "random"]],
  ["initLayers", "ints", 0, 255], ["repeatedLayers", "enum", 0, 0, ["copy", "identity"]], ["quant", "enum", 0, 0, ["ternary", "int8", "q4", "f32"]],
  ["attentionQuant", "enum", 0, 0, ["ternary", "int8", "q4", "f32"]],
  ["quantRamp", "int", 0, 1e8], ["embedding", "enum", 0, 0, ["int8", "q4", "ternary"]],
  ["ternaryFormat", "enum", 0, 0, TERNARY_FORMATS],
  ["loss", "enum", 0, 0, ["ce", "forward-kl", "reverse-kl"]], ["temperature", "num", 0.05, 100], ["alpha", "num", 0, 1],
  ["hiddenWeight", "num", 0, 1e6], ["sparsity", "num", 0, 0.99], ["pruneHeads", "int", 0, 255],
  ["pruneStart", "int", 0, 1e8], ["pruneEnd", "int", 0, 1e8], ["steps", "int", 1, 1e8], ["batch", "int", 1, 4096], ["lr", "num", 0, 10],
  ["minLr", "num", 0, 10], ["warmup", "int", 0, 1e8], ["weightDecay", "num", 0, 10], ["gradClip", "num", 0, 1e6],
  ["corpusTokens", "int", 0, 1e9], ["sampleTemperature", "num", 0, 10], ["sampleTopp", "num", 0, 1], ["seed", "int", 0, 2 ** 31],
  ["workers", "int", 1, 64], ["logEvery", "int", 1, 1e8], ["checkpointEvery", "int", 1, 1e8],
];

// name: the file, for messages. teacher: checks shape-dependent options against it.
export function parseStudentConfig(json: string, name: string, teacher?: ModelConfig): StudentConfig {
  const fail = (msg: string): never => { throw new ConfigError(`student config ${name}: ${msg}`); };
  let raw: unknown;
  try { raw = JSON.parse(json); } catch (e) { return fail(`not valid JSON (${(e as Error).message.replace(/\s+/g, " ")})`); }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return fail("must be a JSON object");
  const obj = raw as Record<string, unknown>;
  const known = new Set(RULES.map((r) => r[0] as string));
  for (const k of Object.keys(obj)) if (!known.has(k)) fail(`unknown field "${k}" (known: ${[...known].join(", ")})`);
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, kind, min = 0, max = 0, values] of RULES) {
    const v = obj[key];
    if (v === undefined) {
      if (!(key in DEFAULTS)) fail(`missing required field "${key}"`);
      continue;
    }
    if (kind === "enum") {
      if (typeof v !== "string" || !values!.includes(v)) fail(`"${key}" must be one of ${values!.join(", ")}, got ${JSON.stringify(v)}`);
    } else if (kind === "ints") {
      if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x) || x < min || x > max)) fail(`"${key}" must be an array of integers in [${min}, ${max}]`);
    } else if (typeof v !== "number" || !Number.isFinite(v) || (kind === "int" && !Number.isInteger(v)) || v < min || v > max) {
      fail(`"${key}" must be ${kind === "int" ? "an integer" : "a number"} in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    out[key] = v;
  }
  const c = out as unknown as StudentConfig;
  if (obj.attentionQuant === undefined) c.attentionQuant = c.quant;
  if (obj.pruneEnd === undefined) c.pruneEnd = Math.max(c.pruneStart, Math.floor(c.steps / 2));
  const shape = studentModelConfig(c, teacher?.vocabSize ?? 512);
  const p = configProblems(shape);
  if (p.length) fail(p.join("; "));
  const params = parameterCount(shape);
  if (params > MAX_TRAINING_PARAMETERS) fail(`the student has ${params.toLocaleString("en")} parameters; training holds at most ${MAX_TRAINING_PARAMETERS.toLocaleString("en")} (weights, gradients and two Adam moments, 16 bytes a parameter, live in the training module's 32-bit memory)`);
  if (c.quant === "f32" && c.embedding !== "int8") fail(`"embedding" ${JSON.stringify(c.embedding)} needs a quantized student ("quant" ternary, int8 or q4)`);
  if ((c.quant === "f32") !== (c.attentionQuant === "f32")) fail(`"attentionQuant" ${JSON.stringify(c.attentionQuant)} cannot be mixed with "quant" ${JSON.stringify(c.quant)}: f32 and quantized matrices take different activations`);
  if (c.quantRamp > c.steps) fail(`"quantRamp" ${c.quantRamp} is longer than "steps" ${c.steps}: the model would end partly unquantized`);
  if (c.quantRamp > 0 && c.quant === "f32") fail(`"quantRamp" needs a quantized student ("quant" ternary, int8 or q4)`);
  const unused = ternaryFormatProblem(c.quant, c.attentionQuant, c.ternaryFormat, c.embedding);
  if (unused) fail(`"ternaryFormat": ${unused}`);
  if (c.minLr > c.lr) fail(`"minLr" ${c.minLr} is larger than "lr" ${c.lr}`);
  if (c.init === "teacher") {
    if (c.initLayers.length !== c.nLayers) fail(`"initLayers" must name one teacher layer for each of the ${c.nLayers} student layers`);
  }
  if (c.repeatedLayers === "identity" && (c.init !== "teacher" || new Set(c.initLayers).size === c.initLayers.length)) {
    fail(`"repeatedLayers" "identity" needs init "teacher" and a teacher layer named twice in "initLayers"`);
  }
  if (teacher) {
    if (c.init === "teacher") {
      const k = widthFactor(c, teacher);
      if (k === 0) fail(`init "teacher" copies teacher layers, so "dim" must be the teacher's ${teacher.dim} or a multiple of it (got ${c.dim})`);
      if (c.nHeads !== teacher.nHeads * k) fail(`init "teacher" keeps the teacher's head size, so "nHeads" must be ${teacher.nHeads * k} at dim ${c.dim} (got ${c.nHeads})`);
      const kv = teacher.nKvHeads * k;
      if (kv % c.nKvHeads !== 0) fail(`init "teacher" merges KV heads, so "nKvHeads" must divide ${kv} (the teacher's ${teacher.nKvHeads}${k > 1 ? ` × ${k}` : ""})`);
      const bad = c.initLayers.find((l) => l >= teacher.nLayers);
      if (bad !== undefined) fail(`"initLayers" names layer ${bad}, the teacher has ${teacher.nLayers}`);
    }
    if (c.hiddenWeight > 0 && c.dim !== teacher.dim) fail(`"hiddenWeight" needs the student's dim ${c.dim} to equal the teacher's ${teacher.dim}`);
    if (c.seqLen > teacher.seqLen) fail(`"seqLen" ${c.seqLen} is longer than the teacher's context ${teacher.seqLen}`);
  }
  if (c.loss === "ce" && c.hiddenWeight > 0) fail(`"hiddenWeight" needs a distillation loss, not "ce"`);
  if (c.pruneHeads >= c.nHeads) fail(`"pruneHeads" ${c.pruneHeads} must leave at least one of the ${c.nHeads} heads`);
  if (c.pruneStart > c.pruneEnd) fail(`"pruneStart" ${c.pruneStart} is after "pruneEnd" ${c.pruneEnd}`);
  if (c.pruneEnd > c.steps) fail(`"pruneEnd" ${c.pruneEnd} is after the last step ${c.steps}`);
  if (c.batch % c.workers !== 0) fail(`"batch" ${c.batch} must be a multiple of "workers" ${c.workers}`);
  return c;
}

// A tiny-model trainer: far above any student for a microcontroller, well inside wasm32's 4 GiB.
export const MAX_TRAINING_PARAMETERS = 16 << 20;

export function parameterCount(m: ModelConfig): number {
  const kvDim = (m.dim / m.nHeads) * m.nKvHeads;
  const layer = 2 * m.dim * m.dim + 2 * m.dim * kvDim + 3 * m.dim * m.hiddenDim + 2 * m.dim;
  return m.nLayers * layer + m.vocabSize * m.dim + m.dim + (m.sharedClassifier ? 0 : m.vocabSize * m.dim);
}

// How many times the student's residual stream is the teacher's (0: not a whole multiple).
export function widthFactor(c: Pick<StudentConfig, "dim">, teacher: Pick<ModelConfig, "dim">): number {
  return c.dim % teacher.dim === 0 ? c.dim / teacher.dim : 0;
}

export function studentModelConfig(c: StudentConfig, vocabSize: number): ModelConfig {
  return {
    dim: c.dim, hiddenDim: c.hiddenDim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads,
    vocabSize, seqLen: c.seqLen, ropeTheta: 10000, normEps: 1e-5, sharedClassifier: true,
  };
}
