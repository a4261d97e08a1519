// Parser of the grammar language (docs/grammar.md): a GBNF-like subset.
// A rule starts with `name ::=` and runs until the next rule; `#` starts a comment.
import { GrammarError } from "./errors.js";

export type Node =
  | { kind: "bytes"; bytes: Uint8Array }                       // a string literal, UTF-8
  | { kind: "class"; ranges: [number, number][] }              // byte ranges, inclusive, already negated
  | { kind: "ref"; name: string; line: number; col: number }
  | { kind: "seq"; items: Node[] }
  | { kind: "alt"; options: Node[] }
  | { kind: "repeat"; item: Node; min: 0 | 1; many: boolean }; // ? = (0,false) * = (0,true) + = (1,true)

export interface Rule { name: string; body: Node; line: number; col: number }

export const BUILTINS = new Set(["copy", "copynum"]);

class Cursor {
  pos = 0;
  constructor(readonly src: string, readonly file: string) {}
  where(at = this.pos): { line: number; col: number } {
    const before = this.src.slice(0, at);
    const line = before.split("\n").length;
    return { line, col: at - before.lastIndexOf("\n") };
  }
  fail(msg: string, at = this.pos): never {
    const { line, col } = this.where(at);
    throw new GrammarError("E_GRAMMAR_SYNTAX", `${this.file}:${line}:${col}: ${msg}`);
  }
  skipSpace(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.pos++;
      else if (c === "#") { while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++; }
      else return;
    }
  }
  peekRuleStart(): boolean {
    return /^[A-Za-z_][A-Za-z0-9_-]*[ \t]*::=/.test(this.src.slice(this.pos, this.pos + 200));
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*/;

function escape(cur: Cursor): number {
  const c = cur.src[cur.pos++];
  switch (c) {
    case "n": return 10;
    case "t": return 9;
    case "r": return 13;
    case "\\": case "\"": case "]": case "[": case "-": case "^": return c.charCodeAt(0);
    case "x": {
      const hex = cur.src.slice(cur.pos, cur.pos + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) cur.fail("\\x needs two hex digits", cur.pos - 2);
      cur.pos += 2;
      return parseInt(hex, 16);
    }
    default: return cur.fail(`unknown escape \\${c ?? "end of file"}`, cur.pos - 2);
  }
}

function literal(cur: Cursor): Node {
  const start = cur.pos++;
  const out: number[] = [];
  for (;;) {
    if (cur.pos >= cur.src.length || cur.src[cur.pos] === "\n") cur.fail("unterminated string literal", start);
    const c = cur.src[cur.pos];
    if (c === "\"") { cur.pos++; break; }
    if (c === "\\") { cur.pos++; out.push(escape(cur)); continue; }
    const cp = cur.src.codePointAt(cur.pos)!;
    cur.pos += cp > 0xffff ? 2 : 1;
    out.push(...new TextEncoder().encode(String.fromCodePoint(cp)));
  }
  return { kind: "bytes", bytes: Uint8Array.from(out) };
}

function charClass(cur: Cursor): Node {
  const start = cur.pos++;
  const negate = cur.src[cur.pos] === "^";
  if (negate) cur.pos++;
  const ranges: [number, number][] = [];
  const one = (): number => {
    if (cur.pos >= cur.src.length || cur.src[cur.pos] === "\n") cur.fail("unterminated character class", start);
    const c = cur.src[cur.pos++];
    if (c === "\\") return escape(cur);
    const code = c.charCodeAt(0);
    if (code > 127) cur.fail("a character class holds ASCII only (use a string literal for other characters)", cur.pos - 1);
    return code;
  };
  while (cur.src[cur.pos] !== "]") {
    const lo = one();
    let hi = lo;
    if (cur.src[cur.pos] === "-" && cur.src[cur.pos + 1] !== "]") { cur.pos++; hi = one(); }
    if (hi < lo) cur.fail("character range is reversed", cur.pos - 1);
    ranges.push([lo, hi]);
    if (cur.pos >= cur.src.length) cur.fail("unterminated character class", start);
  }
  cur.pos++;
  if (ranges.length === 0) cur.fail("empty character class", start);
  if (!negate) return { kind: "class", ranges };
  const mark = new Uint8Array(256);
  for (const [lo, hi] of ranges) mark.fill(1, lo, hi + 1);
  const out: [number, number][] = [];
  for (let b = 0; b < 256; b++) {
    if (mark[b]) continue;
    let e = b;
    while (e + 1 < 256 && !mark[e + 1]) e++;
    out.push([b, e]);
    b = e;
  }
  return { kind: "class", ranges: out };
}

function atom(cur: Cursor): Node | null {
  cur.skipSpace();
  const c = cur.src[cur.pos];
  if (c === undefined || c === "|" || c === ")" || cur.peekRuleStart()) return null;
  if (c === "\"") return literal(cur);
  if (c === "[") return charClass(cur);
  if (c === "(") {
    const open = cur.pos++;
    const body = alternatives(cur);
    cur.skipSpace();
    if (cur.src[cur.pos] !== ")") cur.fail("missing ) for this (", open);
    cur.pos++;
    return body;
  }
  const m = NAME.exec(cur.src.slice(cur.pos));
  if (!m) return cur.fail(`unexpected ${JSON.stringify(c)}`);
  const { line, col } = cur.where();
  cur.pos += m[0].length;
  return { kind: "ref", name: m[0], line, col };
}

function sequence(cur: Cursor): Node {
  const items: Node[] = [];
  for (;;) {
    let item = atom(cur);
    if (!item) break;
    for (;;) {
      const op = cur.src[cur.pos];
      if (op === "?") item = { kind: "repeat", item, min: 0, many: false };
      else if (op === "*") item = { kind: "repeat", item, min: 0, many: true };
      else if (op === "+") item = { kind: "repeat", item, min: 1, many: true };
      else break;
      cur.pos++;
    }
    items.push(item);
  }
  return items.length === 1 ? items[0] : { kind: "seq", items };
}

function alternatives(cur: Cursor): Node {
  const options = [sequence(cur)];
  cur.skipSpace();
  while (cur.src[cur.pos] === "|") {
    cur.pos++;
    options.push(sequence(cur));
    cur.skipSpace();
  }
  return options.length === 1 ? options[0] : { kind: "alt", options };
}

export function parseGrammar(src: string, file = "grammar"): Rule[] {
  const cur = new Cursor(src, file);
  const rules: Rule[] = [];
  const seen = new Set<string>();
  cur.skipSpace();
  while (cur.pos < src.length) {
    const { line, col } = cur.where();
    const m = NAME.exec(src.slice(cur.pos));
    if (!m || !cur.peekRuleStart()) cur.fail("expected a rule: name ::= ...");
    const name = m![0];
    if (BUILTINS.has(name)) cur.fail(`"${name}" is a builtin and cannot be redefined`);
    if (seen.has(name)) cur.fail(`rule "${name}" is defined twice`);
    seen.add(name);
    cur.pos = src.indexOf("::=", cur.pos) + 3;
    const body = alternatives(cur);
    cur.skipSpace();
    if (cur.pos < src.length && !cur.peekRuleStart()) cur.fail(`unexpected ${JSON.stringify(src[cur.pos])}`);
    rules.push({ name, body, line, col });
  }
  if (rules.length === 0) throw new GrammarError("E_GRAMMAR_EMPTY", `${file}: the grammar has no rules`);
  return rules;
}
