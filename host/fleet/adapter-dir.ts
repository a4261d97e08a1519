// A peer's adapters (`edgellm serve --adapters DIR`): every *.ella file in DIR made for the
// model it serves, each announced under its file name without .ella (the protocol's adapter id,
// host/fleet/schemas.ts). An adapter for another base is skipped with one log line naming the
// file; a damaged file, a name that is not an id, or more adapters than a peer may hold stop
// the peer before it connects. The bytes are read once here and copied into the engine once.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { modelBase, readAdapter } from "../format/adapter-reader.js";
import { FormatError } from "../format/errors.js";
import { readFileChecked } from "../format/load.js";
import { FleetError } from "./errors.js";
import type { Logger } from "./log.js";
import { ADAPTER_ID_PATTERN, MAX_PEER_ADAPTERS } from "./schemas.js";

export interface AdapterFile { id: string; path: string; bytes: Uint8Array }

const SUFFIX = ".ella";
const ID = new RegExp(ADAPTER_ID_PATTERN);

// The adapters in dir for the model (bytes and the name given for it in messages), in file-name order.
export function readAdapterDir(dir: string, modelBytes: Uint8Array, modelName: string, log: Logger): AdapterFile[] {
  const fail = (why: string): never => { throw new FleetError("E_FLEET_CONFIG", `--adapters ${dir}: ${why}`); };
  let names: string[] = [];
  try {
    if (!statSync(dir).isDirectory()) fail("not a directory");
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof FleetError) throw e;
    fail((e as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (e as Error).message);
  }
  const base = modelBase(modelBytes, modelName);
  const found: AdapterFile[] = [];
  let skipped = 0;
  for (const name of names.filter((n) => n.endsWith(SUFFIX)).sort()) {
    const path = join(dir, name), id = name.slice(0, -SUFFIX.length);
    if (!ID.test(id)) fail(`${name}: '${id}' is not an adapter id (1-128 of A-Z a-z 0-9 _ . -); rename the file`);
    try {
      const bytes = readFileChecked(path, "adapter");
      readAdapter(bytes, path, base);
      found.push({ id, path, bytes });
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      if (e.code !== "E_ADAPTER_BASE") throw new FleetError("E_FLEET_CONFIG", `--adapters: ${e.message}`);
      skipped++;
      log.warn(`--adapters: skipped: ${e.message}`);
    }
  }
  if (found.length > MAX_PEER_ADAPTERS) fail(`${found.length} adapters for this model; a peer holds at most ${MAX_PEER_ADAPTERS}`);
  if (found.length === 0) log.warn(`--adapters ${dir}: no adapter for ${modelName}${skipped ? ` (${skipped} for other models skipped)` : ""}; serving without adapters`);
  return found;
}
