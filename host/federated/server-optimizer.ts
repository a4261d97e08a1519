// The server's step from a round's aggregate (the clients' mean update Δ, a pseudo-gradient):
// FedAvg takes it, scaled by a server rate (θ += η_s·Δ; η_s = 1 is McMahan et al.'s FedAvg,
// more makes up for K clients' updates being averaged rather than chained); FedAdam (Reddi et al. 2021, "Adaptive federated
// optimization") keeps Adam moments over rounds: m = β₁m + (1−β₁)Δ, v = β₂v + (1−β₂)Δ²,
// θ += η·m / (√v + τ). State is plain arrays so a coordinator can save and resume it.

export type ServerOptimizerName = "fedavg" | "fedadam";

export interface ServerOptimizerState { name: ServerOptimizerName; m?: number[]; v?: number[] }

export interface ServerOptimizer {
  readonly name: ServerOptimizerName;
  apply(global: Float32Array, delta: Float32Array): void; // in place
  state(): ServerOptimizerState;
}

export class FedAvg implements ServerOptimizer {
  readonly name = "fedavg";
  constructor(private readonly lr = 1) {}
  apply(global: Float32Array, delta: Float32Array): void {
    for (let i = 0; i < global.length; i++) global[i] += this.lr * delta[i];
  }
  state(): ServerOptimizerState { return { name: "fedavg" }; }
}

export interface FedAdamOptions { lr: number; beta1: number; beta2: number; tau: number }
export const DEFAULT_FEDADAM: FedAdamOptions = { lr: 1e-2, beta1: 0.9, beta2: 0.99, tau: 1e-3 };

export class FedAdam implements ServerOptimizer {
  readonly name = "fedadam";
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  constructor(size: number, private readonly o: FedAdamOptions = DEFAULT_FEDADAM, saved?: ServerOptimizerState) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    if (saved?.m && saved.v && saved.m.length === size && saved.v.length === size) { this.m.set(saved.m); this.v.set(saved.v); }
  }

  apply(global: Float32Array, delta: Float32Array): void {
    const { lr, beta1, beta2, tau } = this.o;
    for (let i = 0; i < global.length; i++) {
      const d = delta[i];
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * d;
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * d * d;
      global[i] += lr * this.m[i] / (Math.sqrt(this.v[i]) + tau);
    }
  }

  state(): ServerOptimizerState { return { name: "fedadam", m: Array.from(this.m), v: Array.from(this.v) }; }
}

// lr: FedAvg's server rate (default 1) or FedAdam's (default DEFAULT_FEDADAM.lr).
export function serverOptimizer(name: ServerOptimizerName, size: number, saved?: ServerOptimizerState, lr?: number): ServerOptimizer {
  return name === "fedadam"
    ? new FedAdam(size, { ...DEFAULT_FEDADAM, ...(lr !== undefined ? { lr } : {}) }, saved?.name === "fedadam" ? saved : undefined)
    : new FedAvg(lr ?? 1);
}
