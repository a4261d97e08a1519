import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../engine/module.js";
import type { Inventory } from "./inventory.js";

// The committed inventory (derived by tools/derive-intents.ts).
export function loadInventory(path = join(PROJECT_ROOT, "host", "commands", "intents.json")): Inventory {
  return JSON.parse(readFileSync(path, "utf8")) as Inventory;
}
