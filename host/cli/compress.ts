// The compression toolchain's commands (distill, quantize, prune), registered by main.ts.
import type { Command } from "commander";
import { distillCommand } from "./distill.js";
import { sampleCommand } from "./sample.js";
import { quantizeCommand } from "./quantize.js";
import { pruneCommand } from "./prune.js";

export function compressCommands(): Command[] {
  return [distillCommand(), quantizeCommand(), pruneCommand(), sampleCommand()];
}
