// Commands tasks in the module's agent (docs/protocol.md §3 "Task types"): a peer holding the
// home-command grammar (agentServeCommands) announces taskTypes ["commands"] and runs a task
// of type commands as `edgellm commands -i` does (the sentence and a newline as the prompt,
// greedy, the grammar copying from the sentence, ending at the newline), its result the label
// alone; text tasks on the same peer are unchanged; bad sentences fail with a reason; nothing
// is allocated per task.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { compiledCommandGrammar } from "../../host/commands/compiled.js";
import { b64 } from "../../host/fleet/messages.js";
import { TestAgent } from "./agent-helpers.js";
import { CLI, ROOT } from "./helpers.js";

const MODEL = new Uint8Array(readFileSync(join(ROOT, "models", "default.ellm")));
const HOME = new Uint8Array(readFileSync(join(ROOT, "models", "home.ella")));
const GRAMMAR = compiledCommandGrammar();
const SENTENCES = ["turn off the porch light", "Set the Bedroom lights to 50%!", "what is the temperature in the kitchen", "start a timer for 21 minutes", "  pause my kids room media players  "];

// What `edgellm commands -i` prints for each sentence (one process per sentence: the reference).
const local = new Map<string, string>();
function localLabel(sentence: string): string {
  if (!local.has(sentence)) {
    const r = spawnSync(process.execPath, [CLI, "commands", "-i", sentence], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    local.set(sentence, r.stdout.replace(/\n$/, ""));
  }
  return local.get(sentence)!;
}

function commandsAgent(engine: "simd" | "mvp" = "simd", serve = true): TestAgent {
  const a = new TestAgent({ modelBytes: MODEL, engine, ctx: 0, maxQueue: 8 });
  assert.equal(a.addAdapter("home", HOME), 0);
  if (serve) {
    assert.equal(a.x.grammarLoad(a.e.copyIn(GRAMMAR), GRAMMAR.length), 0);
    assert.equal(a.x.agentServeCommands(), 0);
  }
  a.connected();
  return a;
}

const resultOf = (a: TestAgent, taskId: string) => a.of("result").find((r) => r.taskId === taskId)!;
const text = (data: string) => Buffer.from(b64.to(data)).toString("utf8");

test("a commands peer announces taskTypes; a peer without the grammar does not, and rejects commands tasks", () => {
  const a = commandsAgent();
  assert.deepEqual(a.of("status").at(-1), { ...a.of("status").at(-1), taskTypes: ["commands"] });
  const plain = commandsAgent("simd", false);
  assert.ok(!("taskTypes" in plain.of("status").at(-1)!));
  assert.equal(plain.task({ taskId: "c", task: "commands", prompt: "turn on the light", steps: 0 }).rc, 0);
  assert.deepEqual(plain.of("reject").at(-1), { v: 1, kind: "reject", taskId: "c", attempt: 1, reason: "commands tasks are not served by this peer" });
  const none = new TestAgent({ modelBytes: MODEL, ctx: 64 });
  assert.equal(none.x.agentServeCommands(), -21, "no grammar loaded: E_NO_GRAMMAR");
});

test("commands tasks give the label `edgellm commands -i` prints, in both builds; text tasks in between are unchanged", () => {
  const plainText = (a: TestAgent, id: string) => {
    a.task({ taskId: id, prompt: "Once upon a time", steps: 40, temperature: 0.8, seed: "5", adapter: "home" });
    a.runUntilIdle();
    return resultOf(a, id).data;
  };
  const reference = commandsAgent("simd", false);
  const wantText = plainText(reference, "text-ref");
  for (const engine of ["simd", "mvp"] as const) {
    const a = commandsAgent(engine);
    SENTENCES.forEach((s, i) => {
      // Sampling fields are ignored for commands tasks: they are greedy, as `commands` is.
      assert.equal(a.task({ taskId: `c${i}`, task: "commands", prompt: s, steps: 0, temperature: 0.9, topp: 0.5, seed: "77", adapter: "home" }).rc, 0);
    });
    const probe = -a.heapTop() + a.heapTop(); // what one probe takes
    const beforeText = a.heapTop();
    a.runUntilIdle();
    SENTENCES.forEach((s, i) => {
      const r = resultOf(a, `c${i}`);
      assert.equal(r.status, "done", `${engine} ${s}: ${r.error}`);
      assert.equal(text(r.data).trim(), localLabel(s), `${engine}: ${s}`);
      assert.ok(!text(r.data).includes("\n"), "the label alone: no prompt, no newline");
    });
    assert.equal(plainText(a, `t-${engine}`), wantText, `${engine}: a text task after commands tasks is what it was`);
    assert.equal(a.heapTop() - beforeText, probe, `${engine}: nothing allocated while serving (the probe's own block only)`);
  }
});

test("bad sentences fail with a reason; the next task runs", () => {
  const a = commandsAgent();
  a.task({ taskId: "empty", task: "commands", prompt: " \t ", steps: 0, adapter: "home" });
  a.task({ taskId: "long", task: "commands", prompt: "turn on the light ".repeat(20), steps: 0, adapter: "home" });
  a.task({ taskId: "ok", task: "commands", prompt: SENTENCES[0], steps: 0, adapter: "home" });
  a.runUntilIdle();
  assert.deepEqual([resultOf(a, "empty").status, resultOf(a, "empty").error, resultOf(a, "empty").data], ["failed", "empty sentence", ""]);
  assert.equal(resultOf(a, "long").status, "failed");
  assert.match(resultOf(a, "long").error!, /over the 256 bytes the command grammar copies from/);
  assert.equal(text(resultOf(a, "ok").data).trim(), localLabel(SENTENCES[0]));
  assert.deepEqual(a.invalid, []);
});
