// The ceiling of constrained decoding on home commands: how many labels of each file the
// generated grammar accepts, with the copy terminal set to the line's sentence: without a home,
// with that home's names added, and with only that home's names for areas, floors and devices. Usage: node dist/tools/grammar-coverage.js [DATA_DIR]
import { join } from "node:path";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { readCommandData } from "../host/commands/data.js";
import { commandCoverage } from "../host/commands/coverage.js";
import { loadInventory } from "../host/commands/load-inventory.js";

const dir = process.argv[2] ?? join(PROJECT_ROOT, "..", "shared", "data", "home-commands");
const data = readCommandData(dir);
const inv = loadInventory();
process.stdout.write("| file | lines | no home (copy) | copy or home names | home names only |\n|---|---|---|---|---|\n");
for (const [kind, files] of [["train", data.train], ["val", data.val]] as const) {
  files.forEach((lines, i) => {
    const counts = (["none", "names", "strict"] as const).map((mode) => commandCoverage(inv, lines, mode));
    const pct = (n: number): string => `${n} (${((100 * n) / lines.length).toFixed(1)} %)`;
    process.stdout.write(`| ${kind} ${i} | ${lines.length} | ${counts.map(pct).join(" | ")} |\n`);
  });
}
