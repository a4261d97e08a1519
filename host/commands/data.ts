// Reads the home-commands data set (../shared/data/home-commands/README.md): SENTENCE<TAB>LABEL
// lines per home file and homes.json, one home object per file in file order.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CodedError } from "../coded-error.js";
import { parseLabel, type Home, type LabelledLine } from "./inventory.js";

export class CommandDataError extends CodedError<"E_COMMAND_DATA"> {}

export interface CommandData { train: LabelledLine[][]; val: LabelledLine[][] } // [file][line]

function readFile(path: string, home: Home): LabelledLine[] {
  return readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0).map((l, i) => {
    const tab = l.indexOf("\t");
    if (tab < 0) throw new CommandDataError("E_COMMAND_DATA", `${path}:${i + 1}: no tab between sentence and label`);
    return { sentence: l.slice(0, tab), ...parseLabel(l.slice(tab + 1)), home };
  });
}

export function readCommandData(dir: string): CommandData {
  const homes = JSON.parse(readFileSync(join(dir, "homes.json"), "utf8")) as Home[];
  const files = readdirSync(dir).filter((f) => f.endsWith(".tsv")).sort();
  const train = files.filter((f) => f.startsWith("train-"));
  const val = files.filter((f) => f.startsWith("val-"));
  if (homes.length !== train.length + val.length) throw new CommandDataError("E_COMMAND_DATA", `${dir}/homes.json: ${homes.length} homes for ${train.length + val.length} files`);
  return {
    train: train.map((f, i) => readFile(join(dir, f), homes[i])),
    val: val.map((f, i) => readFile(join(dir, f), homes[train.length + i])),
  };
}
