// edgellm privacy: ε of a DP-FedAvg / DP-SGD configuration, to plan noise, sampling and rounds
// before a run (the same accountant the federated coordinator uses).
import { Command, InvalidArgumentError } from "commander";
import { choice } from "./args.js";
import { CONVERSIONS, epsilonFromRdp, type Conversion } from "../privacy/conversion.js";
import { DEFAULT_ORDERS, sgmRdpSteps } from "../privacy/rdp.js";

function number(name: string, ok: (x: number) => boolean, range: string) {
  return (v: string): number => {
    const x = Number(v);
    if (v.trim() === "" || !Number.isFinite(x) || !ok(x)) throw new InvalidArgumentError(`${name} must be ${range}, got '${v}'`);
    return x;
  };
}

function steps(v: string): number {
  const x = Number(v);
  if (!/^\d+$/.test(v.trim()) || x < 1 || !Number.isSafeInteger(x)) throw new InvalidArgumentError(`steps must be a positive integer, got '${v}'`);
  return x;
}

function orders(v: string): number[] {
  const list = v.split(",").map((s) => s.trim());
  const xs = list.map(Number);
  if (list.some((s) => s === "") || xs.some((x) => !(x > 1) || !Number.isFinite(x))) throw new InvalidArgumentError(`orders must be a comma-separated list of numbers > 1, got '${v}'`);
  return xs;
}

export function privacyCommand(): Command {
  return new Command("privacy")
    .description("ε (and the best RDP order) of Poisson-sampled Gaussian noise over T rounds")
    .requiredOption("--noise <z>", "noise multiplier z (σ = z × clip norm)", number("noise", (x) => x > 0, "a number > 0"))
    .requiredOption("--sample-rate <q>", "probability that a client (or example) takes part in a round", number("sample rate", (x) => x > 0 && x <= 1, "a number in (0, 1]"))
    .requiredOption("--steps <t>", "number of rounds", steps)
    .requiredOption("--delta <d>", "target δ", number("delta", (x) => x > 0 && x < 1, "a number in (0, 1)"))
    .option("--orders <list>", "RDP orders, comma-separated (default: Opacus's 1.1…10.9, 12…63)", orders)
    .option("--conversion <name>", `RDP → (ε, δ) conversion: ${CONVERSIONS.join(", ")}`, choice("conversion", CONVERSIONS), "opacus")
    .option("--json", "print a JSON object")
    .action((o: { noise: number; sampleRate: number; steps: number; delta: number; orders?: number[]; conversion: Conversion; json?: boolean }) => {
      const ords = o.orders ?? [...DEFAULT_ORDERS];
      const { epsilon, bestOrder } = epsilonFromRdp(ords, sgmRdpSteps(o.sampleRate, o.noise, o.steps, ords), o.delta, o.conversion);
      // The best order at either end of the list means a wider list would likely give a smaller ε.
      const atEdge = Number.isFinite(epsilon) && (bestOrder === Math.min(...ords) || bestOrder === Math.max(...ords));
      if (o.json) {
        const out = { epsilon: Number.isFinite(epsilon) ? epsilon : null, bestOrder: Number.isNaN(bestOrder) ? null : bestOrder, delta: o.delta, noise: o.noise, sampleRate: o.sampleRate, steps: o.steps, conversion: o.conversion, orderAtEdge: atEdge };
        process.stdout.write(JSON.stringify(out) + "\n");
        return;
      }
      const eps = Number.isFinite(epsilon) ? epsilon.toPrecision(6).replace(/\.?0+$/, "") : "infinite";
      const order = Number.isNaN(bestOrder) ? "" : ` (best RDP order ${bestOrder}${atEdge ? ", at the end of the orders: try a wider --orders" : ""})`;
      process.stdout.write(`ε = ${eps} at δ = ${o.delta}${order}: ${o.steps} round${o.steps === 1 ? "" : "s"}, noise ${o.noise}, sample rate ${o.sampleRate}, ${o.conversion} conversion\n`);
    });
}
