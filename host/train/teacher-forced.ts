// Teacher-forced scores of labelled examples, as both fine-tuning trainers report them: the mean
// loss over trained tokens; exact when every label token (and the closing newline) is the
// model's most likely next token, which is what greedy decoding would print; intent when every
// token of the intent is.
export interface Evaluation { loss: number; exact: number; intent: number; rows: number }

export class TeacherForcedScore {
  private nll = 0;
  private counted = 0;
  private exact = 0;
  private intent = 0;
  private examples = 0;
  private allRight = true;
  private intentRight = true;

  // One trained position: its logits, the target, and whether the target is part of the intent.
  add(logits: Float32Array, target: number, inIntent: boolean): void {
    let max = -Infinity, arg = 0;
    for (let v = 0; v < logits.length; v++) if (logits[v] > max) { max = logits[v]; arg = v; }
    let sum = 0;
    for (let v = 0; v < logits.length; v++) sum += Math.exp(logits[v] - max);
    this.nll += Math.log(sum) + max - logits[target];
    this.counted++;
    if (arg !== target) { this.allRight = false; if (inIntent) this.intentRight = false; }
  }

  endExample(): void {
    this.examples++;
    if (this.allRight) this.exact++;
    if (this.intentRight) this.intent++;
    this.allRight = this.intentRight = true;
  }

  result(): Evaluation {
    const k = this.examples;
    return { loss: this.counted ? this.nll / this.counted : NaN, exact: k ? this.exact / k : 0, intent: k ? this.intent / k : 0, rows: k };
  }
}
