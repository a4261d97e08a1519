// Derives the intent inventory (host/commands/intents.json) from the training files of the
// home-commands data set: intent and slot names and each slot's kind of value, no data lines.
// Usage: node dist/tools/derive-intents.js [DATA_DIR] [--out host/commands/intents.json]
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { readCommandData } from "../host/commands/data.js";
import { deriveInventory } from "../host/commands/inventory.js";

const args = process.argv.slice(2);
const dir = args[0] && !args[0].startsWith("--") ? args[0] : join(PROJECT_ROOT, "..", "shared", "data", "home-commands");
const out = args.includes("--out") ? args[args.indexOf("--out") + 1] : join(PROJECT_ROOT, "host", "commands", "intents.json");
const inv = deriveInventory(readCommandData(dir).train.flat());
writeFileSync(out, JSON.stringify(inv, null, 1) + "\n");
process.stdout.write(`${Object.keys(inv.intents).length} intents, ${Object.keys(inv.slots).length} slots -> ${out}\n`);
