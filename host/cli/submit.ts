// edgellm submit: run one task on the fleet; prints exactly what `edgellm run` prints, streamed.
import { Command } from "commander";
import { choice, float, int, seed, temperature } from "./args.js";
import { sentenceProblem } from "../commands/compiled.js";
import { labelJson } from "../commands/labels.js";
import { connectionOptions, withFleetOptions } from "./fleet-options.js";
import { UsageError } from "./errors.js";
import { FleetError } from "../fleet/errors.js";
import { ADAPTER_ID_PATTERN, MAX_ADAPTER_SCALE, MAX_MODEL_ID_CHARS, MAX_PROMPT_BYTES, TASK_TYPES } from "../fleet/schemas.js";

// A commands task runs with the shipped home adapter unless --adapter names another, as
// `edgellm commands` does with the default model (peers hold it: serve --adapters DIR with home.ella).
export const COMMANDS_ADAPTER = "home";

// --adapter ID[:SCALE]: an adapter id some peer announces (serve --adapters), at a scale.
export function adapterArg(v: string): { adapter: string; scale?: number } {
  const colon = v.indexOf(":");
  const adapter = colon >= 0 ? v.slice(0, colon) : v, tail = colon >= 0 ? v.slice(colon + 1) : undefined;
  if (!new RegExp(ADAPTER_ID_PATTERN).test(adapter)) throw new UsageError(`--adapter: '${adapter}' is not an adapter id (1-128 of A-Z a-z 0-9 _ . -: the adapter's file name without .ella)`);
  if (tail === undefined) return { adapter };
  const scale = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(tail) ? Number(tail) : NaN;
  if (!(Math.abs(scale) <= MAX_ADAPTER_SCALE)) throw new UsageError(`--adapter ${v}: the scale must be a number in [-${MAX_ADAPTER_SCALE}, ${MAX_ADAPTER_SCALE}], got '${tail}'`);
  return { adapter, scale };
}

export function submitCommand(): Command {
  return withFleetOptions(new Command("submit"))
    .description("run a task on the fleet (flags as edgellm run)")
    .option("-t, --temperature <float>", "0 = greedy", temperature(100), 1.0)
    .option("-p, --topp <float>", "top-p (nucleus) sampling; 0 or 1 disables", float("topp", 0, 1), 0.9)
    .option("-s, --seed <int>", "random seed (default: time)", seed)
    .option("-n, --steps <int>", "positions to run, counting BOS and the prompt (0 = context length)", int("steps", 0, 65536), 256)
    .option("-i, --prompt <text>", "prompt", "")
    .option("--model-id <id>", "only peers serving this model id")
    .option("--adapter <id[:scale]>", "run with this adapter (a peer's serve --adapters file name without .ella), at a scale (default 1)", adapterArg)
    .option("--deadline <ms>", "give up on the task after this long (0: none)", int("deadline", 0, 86400000), 0)
    .option("--timeout <ms>", "wait at most this long for the reply", int("timeout", 1, 86400000), 300000)
    .option("--task <type>", "text (continue the prompt, as run) or commands (-i is a sentence; prints its label, as `edgellm commands -i`)", choice("task", TASK_TYPES), "text")
    .option("--json", "print one JSON object (text, status, peer, attempts…) instead of streaming; with --task commands {\"intent\": …, \"slots\": {…}} as `commands --json`")
    .action(async (o) => {
      if (o.modelId !== undefined && (o.modelId.length < 1 || o.modelId.length > MAX_MODEL_ID_CHARS)) throw new UsageError(`--model-id must be 1-${MAX_MODEL_ID_CHARS} characters, got ${o.modelId.length}`);
      const commands = o.task === "commands";
      if (commands) {
        // As `edgellm commands -i`: the sentence checked here, run greedy with the home adapter.
        const problem = sentenceProblem(o.prompt);
        if (problem) throw new UsageError(`-i: ${problem}`);
        if (Buffer.byteLength(o.prompt.trim()) + 1 > MAX_PROMPT_BYTES) throw new UsageError(`-i: longer than the ${MAX_PROMPT_BYTES - 1} bytes a task's sentence may have`);
      }
      const c = connectionOptions(o, "submit");
      const { FleetClient } = await import("../fleet/client.js"); // loaded only when used
      const { b64 } = await import("../fleet/messages.js");
      const client = await FleetClient.connect(c);
      const out = process.stdout;
      try {
        await client.waitForGateway(c.connectTimeoutMs);
        const request = commands
          ? { prompt: o.prompt.trim(), steps: 0, temperature: 0, topp: 1, seed: 0n, task: "commands" as const, ...(o.adapter ?? { adapter: COMMANDS_ADAPTER }) }
          : { prompt: o.prompt, steps: o.steps, temperature: o.temperature, topp: o.topp, seed: o.seed ?? BigInt(Math.floor(Date.now() / 1000)), ...(o.adapter ?? {}) };
        const reply = await client.submit({ ...request, deadlineMs: o.deadline || undefined, model: o.modelId, timeoutMs: o.timeout },
          o.json || commands ? undefined : (bytes) => out.write(bytes));
        if (commands) {
          if (reply.status === "done") {
            const label = Buffer.from(b64.to(reply.data)).toString("utf8").split("\n")[0].trim();
            out.write((o.json ? labelJson(label) : label) + "\n");
          }
        } else if (o.json) {
          const text = Buffer.from(b64.to(reply.data)).toString("utf8");
          out.write(JSON.stringify({ taskId: reply.taskId, status: reply.status, text, tokens: reply.tokens, elapsedMs: reply.elapsedMs, peer: reply.peer ?? null, attempts: reply.attempts, ...(reply.error ? { error: reply.error } : {}) }) + "\n");
        } else {
          out.write("\n");
        }
        if (reply.status !== "done") throw new FleetError("E_FLEET_TASK", `task ${reply.taskId} ${reply.status}${reply.error ? `: ${reply.error}` : ""}`);
      } finally {
        await client.close();
      }
    });
}
