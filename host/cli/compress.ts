// The compression toolchain's commands (distill, quantize, prune), registered by main.ts.
import type { Command } from "commander";
import { distillCommand } from "./distill.js";

export function compressCommands(): Command[] {
  return [distillCommand()];
}
