// Compiles a grammar (docs/grammar.md) to the file the module loads, or prints the one-line
// error that stops it. Usage: node dist/tools/compile-grammar.js GRAMMAR [OUT.egrm]
// `--commands [OUT.egrm]` compiles the home-command grammar (host/commands/compiled.ts), what
// `edgellm-fw serve --commands FILE` holds.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { CodedError } from "../host/coded-error.js";
import { compileGrammar } from "../host/grammar/compile.js";
import { writeGrammar } from "../host/grammar/binary.js";
import { compiledCommandGrammar } from "../host/commands/compiled.js";

const [src, out] = process.argv.slice(2);
if (src === "--commands") {
  const bytes = compiledCommandGrammar();
  if (out) writeFileSync(out, bytes);
  process.stdout.write(`home-command grammar: ${bytes.length} bytes${out ? ` -> ${out}` : ""}\n`);
  process.exit(0);
}
if (!src) { process.stderr.write("usage: compile-grammar GRAMMAR [OUT.egrm] | --commands [OUT.egrm]\n"); process.exit(2); }
try {
  const auto = compileGrammar(readFileSync(src, "utf8"), basename(src));
  const bytes = writeGrammar(auto);
  if (out) writeFileSync(out, bytes);
  process.stdout.write(`${src}: ${auto.accept.length} states, ${bytes.length} bytes${out ? ` -> ${out}` : ""}\n`);
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof CodedError) && err.code !== "ENOENT" && err.code !== "EISDIR") throw e;
  process.stderr.write(`edgellm: ${err.code === "ENOENT" ? `${src}: no such file` : err.code === "EISDIR" ? `${src}: is a directory` : err.message}\n`);
  process.exit(1);
}
