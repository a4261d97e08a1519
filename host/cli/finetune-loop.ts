// The training loop every `edgellm finetune` method shares: steps with a progress bar and ETA,
// a validation and a checkpoint every --eval-every steps, Ctrl-C that stops after the step in
// progress with a checkpoint, a line (or JSON line) per validation when piped, the curve.
import { setImmediate as yieldToEvents } from "node:timers/promises";
import { curveSvg } from "../train/curve.js";
import { finetuneSeries, saveFinetune, type FinetuneMeta } from "../train/finetune-checkpoint.js";
import type { Evaluation } from "../train/finetune.js";
import { writeOutput } from "./output.js";
import { startProgress } from "./progress.js";
import { stopOnSignal } from "./run-control.js";

export interface LoopRun {
  label: string;                          // progress bar and curve title
  steps: number;
  first: number;                          // the first step to run (a resumed run starts later)
  evalEvery: number;
  json: boolean;
  checkpointDir: string;
  curve: string;
  run: Record<string, unknown>;           // what a resumption must match
  history: FinetuneMeta["history"];
  smoothing: number;                      // weight of the newest loss in the running mean
  step(s: number): number;                // one step's training loss
  hasVal: boolean;
  evaluate(): Evaluation | undefined;     // on --val, when given
  state(): Float32Array;                  // what the checkpoint holds
}

// Returns false when Ctrl-C stopped it (exit code 130 set, checkpoint saved).
export async function trainingLoop(r: LoopRun, log: (s: string) => void): Promise<boolean> {
  const lines = r.json || !process.stderr.isTTY; // on a terminal the bar carries the numbers
  let exact = "-";
  const report = (step: number, loss: number) => {
    const v = r.evaluate();
    if (v) exact = `${(100 * v.exact).toFixed(1)} %`;
    const entry = { step, loss, ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}) };
    r.history.push(entry);
    if (step > 0) saveFinetune(r.checkpointDir, { version: 1, step, run: r.run, history: r.history }, r.state());
    if (!lines && step < r.steps) return;
    if (r.json) log(JSON.stringify(entry));
    else log(`step ${step}/${r.steps} loss ${loss.toFixed(4)}${v ? ` val loss ${v.loss.toFixed(4)} exact ${(100 * v.exact).toFixed(1)} % intent ${(100 * v.intent).toFixed(1)} %` : ""}`);
  };
  if (r.hasVal && r.first === 1) report(0, NaN);
  const bar = startProgress(r.label, r.steps - r.first + 1, " loss {loss} val exact {exact}");
  const stop = stopOnSignal(() => log("finetune: stopping after the step in progress (Ctrl-C again to quit at once)"));
  let recent = r.history.length ? r.history[r.history.length - 1].loss : 0;
  try {
    for (let s = r.first; s <= r.steps; s++) {
      const loss = r.step(s);
      recent = s === 1 || !Number.isFinite(recent) ? loss : (1 - r.smoothing) * recent + r.smoothing * loss;
      if (stop.signal.aborted) {
        bar.stop();
        report(s, recent);
        log(`finetune: interrupted after step ${s}; checkpoint saved in ${r.checkpointDir}, continue with --resume`);
        process.exitCode = 130;
        return false;
      }
      if (s % r.evalEvery === 0 && s < r.steps) report(s, recent);
      bar.update(s - r.first + 1, { loss: recent.toFixed(3), exact });
      if (s % 20 === 0) await yieldToEvents(); // let Ctrl-C in
    }
  } finally {
    bar.stop();
    stop.dispose();
  }
  if (r.first <= r.steps) report(r.steps, recent);
  writeOutput(r.curve, curveSvg(r.label, finetuneSeries(r.history)), "curve");
  return true;
}
