// A data-parallel training worker (worker_threads): its own training module instance with
// the teacher and a student replica. Per step it receives parameters and its shard of the
// batch and returns the gradients of its shard.
import { parentPort, workerData } from "node:worker_threads";
import type { FloatModel } from "../format/float-model.js";
import type { ModelConfig } from "../format/spec.js";
import type { StudentConfig } from "./config.js";
import { instantiateTrain } from "./module.js";
import { GradComputer } from "./step.js";

export interface WorkerInit { shape: ModelConfig; teacher: FloatModel | null; cfg: StudentConfig; batch: number }
export interface WorkerStep { params: Float32Array; inputs: Int32Array; targets: Int32Array; blend: number }

const init = workerData as WorkerInit;
const g = new GradComputer(instantiateTrain(), init.shape, init.teacher, init.cfg, init.batch);

parentPort!.on("message", (m: WorkerStep) => {
  g.student.params.set(m.params);
  const parts = g.compute(m.inputs, m.targets, m.blend);
  const grads = g.student.grads.slice();
  parentPort!.postMessage({ parts, grads }, [grads.buffer]);
});
