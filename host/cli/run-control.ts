// A long training run's checkpoint directory and stop signals, as `edgellm distill` handles
// them: never overwrite an earlier run unasked, say where a resumed run starts, and turn
// Ctrl-C into a stop at the next step boundary.
import { checkCheckpointMeta, checkpointStep } from "../train/checkpoint.js";
import { UsageError } from "./errors.js";

// A fresh run would overwrite the checkpoint of an earlier one at its first save.
export function refuseToOverwrite(dir: string): void {
  const step = checkpointStep(dir);
  if (step === undefined) return;
  const held = Number.isFinite(step) ? `step ${step} of an earlier run` : "an earlier run's checkpoint";
  throw new UsageError(`checkpoint ${dir} holds ${held}: add --resume to continue it, or remove it or pass another --checkpoint to start over`);
}

export function describeResume(dir: string, steps: number): void {
  const step = checkpointStep(dir);
  if (Number.isNaN(step)) checkCheckpointMeta(dir); // damaged: say what is wrong before any work
  if (step === undefined) process.stdout.write(`distill: no checkpoint in ${dir} yet; starting at step 0\n`);
  else if (step >= steps) process.stdout.write(`distill: checkpoint ${dir} is at step ${step} of ${steps}: writing the model without training\n`);
  else process.stdout.write(`distill: resuming from step ${step} of ${steps} (${dir})\n`);
}

// The first SIGINT or SIGTERM asks the trainer to stop at the next step boundary (it saves a
// checkpoint there); a second one ends the process at once.
export function stopOnSignal(onFirst: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    onFirst();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return { signal: controller.signal, dispose: () => { process.off("SIGINT", handler); process.off("SIGTERM", handler); } };
}
