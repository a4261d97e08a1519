// The worker thread of a trainer's compute (train-thread.ts): a LocalTrainer on the model and
// examples it was started with; each request is one round's work, answered with the update.
import { parentPort, workerData } from "node:worker_threads";
import { readModel } from "../format/reader.js";
import { LocalTrainer } from "./local-trainer.js";
import type { TrainIn, TrainInit, TrainOut } from "./train-thread.js";

const init = workerData as TrainInit;
const local = new LocalTrainer({ bytes: init.modelBytes, image: readModel(init.modelBytes) }, init.examples);
parentPort!.on("message", (m: TrainIn) => {
  let out: TrainOut;
  try {
    const r = local.train(m.id, m.round, m.recipe, m.global);
    out = { seq: m.seq, ok: true, result: r };
  } catch (e) {
    out = { seq: m.seq, ok: false, error: (e as Error).message };
  }
  parentPort!.postMessage(out);
});
