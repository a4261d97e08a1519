// edgellm command line: argv → commands; each command lives in its own file.
import { Command, CommanderError } from "commander";
import { reportAndExit } from "./errors.js";
import { benchCommand } from "./bench.js";
import { convertCommand } from "./convert.js";
import { evalCommand } from "./eval.js";
import { infoCommand } from "./info.js";
import { runCommand } from "./run.js";
import { finetuneCommand } from "./finetune.js";
import { commandsCommand } from "./commands.js";
import { compressCommands } from "./compress.js";
import { serveCommand } from "./serve.js";
import { gatewayCommand } from "./gateway.js";
import { peersCommand } from "./peers.js";
import { submitCommand } from "./submit.js";
import { demoCommand } from "./demo.js";
import { privacyCommand } from "./privacy.js";
import { federateCommand } from "./federate.js";
import { mergeCommand } from "./merge.js";

// Commander's own usage errors read like ours: "edgellm: <what is wrong>".
const output = { writeErr: (s: string) => process.stderr.write(s.replace(/^error: /, "edgellm: ")) };

const program = new Command("edgellm")
  .description("tiny language models on microcontrollers and Raspberry-Pi-class hosts")
  .version("0.1.0")
  .exitOverride()
  .configureOutput(output);

for (const cmd of [runCommand(), convertCommand(), infoCommand(), evalCommand(), benchCommand(), ...compressCommands(), finetuneCommand(), mergeCommand(), commandsCommand(), serveCommand(), gatewayCommand(), peersCommand(), submitCommand(), demoCommand(), privacyCommand(), federateCommand()]) program.addCommand(cmd.exitOverride().configureOutput(output));

// A reader that goes away (`edgellm run | head`) ends the output, quietly, like other tools.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  reportAndExit(e);
}
