// Losses over logits z[N][V] with their gradients dz[N][V] (overwritten), mean over N tokens.
// Distillation uses temperature-softened distributions p(i, T) = exp(z_i/T) / Σ_j exp(z_j/T)
// of the student (q) and the teacher (p), scaled by T² so gradient sizes do not depend on T.
//   cross-entropy   CE = -ln softmax(z)[target]
//   forward KL      KL(p‖q) = Σ p (ln p - ln q)      (mean-seeking; classic Hinton KD)
//   reverse KL      KL(q‖p) = Σ q (ln q - ln p)      (mode-seeking; MiniLLM)
// loss = α · T² · KL + (1 - α) · CE. Dimension key: N tokens, V vocab.

export const LOSS_CE: i32 = 0;
export const LOSS_FORWARD_KL: i32 = 1;
export const LOSS_REVERSE_KL: i32 = 2;

// The two parts of the last loss call, for reporting.
export class LossParts {
  ce: f64 = 0;
  kd: f64 = 0;
}
export const lastLoss = new LossParts();

@inline function f(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }

// out[V] = log_softmax(z[V] / temp); returns nothing, in f64-free f32 with max subtraction.
function logSoftmax(out: usize, z: usize, v: i32, temp: f32): void {
  let max: f32 = -Infinity;
  for (let i = 0; i < v; i++) max = Mathf.max(max, f(z, i) / temp);
  let sum: f32 = 0;
  for (let i = 0; i < v; i++) sum += Mathf.exp(f(z, i) / temp - max);
  const lse = max + Mathf.log(sum);
  for (let i = 0; i < v; i++) store<f32>(out + (<usize>i << 2), f(z, i) / temp - lse);
}

// scratch: f32 [2][V]. zt may be 0 when kind is LOSS_CE and alpha is ignored. A target below 0
// is not predicted (fine-tuning: the prompt is context, the label the target): its gradient is
// zero and the mean is over the positions that are.
export function lossForwardBackward(dz: usize, z: usize, zt: usize, targets: usize, scratch: usize, n: i32, v: i32, kind: i32, temp: f32, alpha: f32): f32 {
  const ls = scratch, lt = scratch + (<usize>v << 2);
  const a: f32 = kind == LOSS_CE ? 0 : alpha;
  let counted = 0;
  for (let t = 0; t < n; t++) if (load<i32>(targets + (<usize>t << 2)) >= 0) counted++;
  const invN: f32 = counted > 0 ? <f32>1.0 / <f32>counted : 0;
  let ceSum: f64 = 0, kdSum: f64 = 0;
  for (let t = 0; t < n; t++) {
    const zr = z + (<usize>(t * v) << 2), dr = dz + (<usize>(t * v) << 2);
    const y = load<i32>(targets + (<usize>t << 2));
    if (y < 0) { memory.fill(dr, 0, <usize>v << 2); continue; }
    // Cross-entropy at T = 1.
    logSoftmax(ls, zr, v, 1);
    ceSum += -<f64>f(ls, y);
    for (let i = 0; i < v; i++) store<f32>(dr + (<usize>i << 2), (<f32>1.0 - a) * Mathf.exp(f(ls, i)) * invN);
    store<f32>(dr + (<usize>y << 2), f(dr, y) - (<f32>1.0 - a) * invN);
    if (a == 0) continue;
    // Distillation at temperature temp: d(T²·KL)/dz = T · d KL/d(z/T).
    logSoftmax(ls, zr, v, temp);
    logSoftmax(lt, zt + (<usize>(t * v) << 2), v, temp);
    const g: f32 = a * temp * invN;
    if (kind == LOSS_FORWARD_KL) {
      let kl: f32 = 0;
      for (let i = 0; i < v; i++) {
        const p = Mathf.exp(f(lt, i)), q = Mathf.exp(f(ls, i));
        kl += p * (f(lt, i) - f(ls, i));
        store<f32>(dr + (<usize>i << 2), f(dr, i) + g * (q - p));
      }
      kdSum += <f64>(kl * temp * temp);
    } else {
      let kl: f32 = 0;
      for (let i = 0; i < v; i++) kl += Mathf.exp(f(ls, i)) * (f(ls, i) - f(lt, i));
      for (let i = 0; i < v; i++) {
        const q = Mathf.exp(f(ls, i));
        store<f32>(dr + (<usize>i << 2), f(dr, i) + g * q * (f(ls, i) - f(lt, i) - kl));
      }
      kdSum += <f64>(kl * temp * temp);
    }
  }
  lastLoss.ce = ceSum / <f64>max(counted, 1);
  lastLoss.kd = kdSum / <f64>max(counted, 1);
  return <f32>(<f64>a * lastLoss.kd + (1.0 - <f64>a) * lastLoss.ce);
}
