// AdamW (decoupled weight decay) over n parameters p[n] with gradients g[n] and moments m[n], v[n].
// step is 1-based (bias correction).
export function adamwUpdate(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, step: i32): void {
  const c1: f32 = <f32>1.0 - Mathf.pow(b1, <f32>step);
  const c2: f32 = <f32>1.0 - Mathf.pow(b2, <f32>step);
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    const gi = load<f32>(g + off);
    const mi = b1 * load<f32>(m + off) + (<f32>1.0 - b1) * gi;
    const vi = b2 * load<f32>(v + off) + (<f32>1.0 - b2) * gi * gi;
    store<f32>(m + off, mi);
    store<f32>(v + off, vi);
    const pi = load<f32>(p + off);
    store<f32>(p + off, pi - lr * ((mi / c1) / (Mathf.sqrt(vi / c2) + eps) + wd * pi));
  }
}
