// Checks a parsed grammar and compiles it to a byte-level NFA whose epsilon moves are already
// closed over. Rules may not be recursive: every grammar is then a regular language, and the
// module needs no stack (a fixed-size state set is the whole decoding state).
import { GrammarError } from "./errors.js";
import { BUILTINS, parseGrammar, type Node, type Rule } from "./parse.js";

export interface Edge { lo: number; hi: number; to: number }  // bytes lo..hi inclusive

// states[i]: byte edges out of state i; copyTo[i]: target after a copied span (-1: none).
// closure[i]: states reachable from i by epsilon moves (i included), sorted.
export interface Automaton {
  start: number;
  accept: Uint8Array;        // [states] 1 when the state may end the output
  edges: Edge[][];           // [states][edges]
  copyTo: Int32Array;        // [states] one copy edge at most per state (a copy in the grammar gets its own state)
  closure: Int32Array[];     // [states][reachable]
}

// copyTo's bit 30: the copy is `copynum` (one word of the input that starts with a digit); the
// low 30 bits are the target state.
export const COPY_NUMBER = 1 << 30;
export const COPY_TARGET = COPY_NUMBER - 1;

interface Builder { edges: Edge[][]; eps: number[][]; copyTo: number[] }

function newState(b: Builder): number {
  b.edges.push([]); b.eps.push([]); b.copyTo.push(-1);
  return b.edges.length - 1;
}

function checkRules(rules: Rule[], file: string): Map<string, Rule> {
  const byName = new Map(rules.map((r) => [r.name, r]));
  if (!byName.has("root")) throw new GrammarError("E_GRAMMAR_EMPTY", `${file}: no rule named "root" (the output starts there)`);
  const refs = (n: Node, out: Extract<Node, { kind: "ref" }>[]): void => {
    if (n.kind === "ref") out.push(n);
    else if (n.kind === "seq") n.items.forEach((x) => refs(x, out));
    else if (n.kind === "alt") n.options.forEach((x) => refs(x, out));
    else if (n.kind === "repeat") refs(n.item, out);
  };
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const visit = (r: Rule, path: string[]): void => {
    state.set(r.name, 1);
    const out: Extract<Node, { kind: "ref" }>[] = [];
    refs(r.body, out);
    for (const ref of out) {
      if (BUILTINS.has(ref.name)) continue;
      const target = byName.get(ref.name);
      if (!target) throw new GrammarError("E_GRAMMAR_UNDEFINED", `${file}:${ref.line}:${ref.col}: undefined rule "${ref.name}"`);
      const s = state.get(ref.name);
      if (s === 1) {
        const cycle = [...path.slice(path.indexOf(ref.name)), ref.name].join(" -> ");
        throw new GrammarError("E_GRAMMAR_RECURSION", `${file}:${ref.line}:${ref.col}: recursive rule (${cycle}): use * or + instead`);
      }
      if (s === undefined) visit(target, [...path, ref.name]);
    }
    state.set(r.name, 2);
  };
  visit(byName.get("root")!, ["root"]);
  return byName;
}

// Thompson construction: returns the exit state of `n` entered at `from`.
function build(b: Builder, rules: Map<string, Rule>, n: Node, from: number): number {
  switch (n.kind) {
    case "bytes": {
      let at = from;
      for (const byte of n.bytes) { const to = newState(b); b.edges[at].push({ lo: byte, hi: byte, to }); at = to; }
      return at;
    }
    case "class": {
      const to = newState(b);
      for (const [lo, hi] of n.ranges) b.edges[from].push({ lo, hi, to });
      return to;
    }
    case "ref": {
      if (n.name === "copy" || n.name === "copynum") {
        const at = newState(b);
        b.eps[from].push(at);
        const to = newState(b);
        b.copyTo[at] = to | (n.name === "copynum" ? COPY_NUMBER : 0);
        return to;
      }
      return build(b, rules, rules.get(n.name)!.body, from);
    }
    case "seq": return n.items.reduce((at, item) => build(b, rules, item, at), from);
    case "alt": {
      const to = newState(b);
      for (const option of n.options) {
        const entry = newState(b);
        b.eps[from].push(entry);
        b.eps[build(b, rules, option, entry)].push(to);
      }
      return to;
    }
    case "repeat": {
      const entry = newState(b);
      b.eps[from].push(entry);
      const exit = build(b, rules, n.item, entry);
      const to = newState(b);
      b.eps[exit].push(to);
      if (n.many) b.eps[exit].push(entry);
      if (n.min === 0) b.eps[from].push(to);
      return to;
    }
  }
}

export function compileGrammar(src: string, file = "grammar"): Automaton {
  const rules = checkRules(parseGrammar(src, file), file);
  const b: Builder = { edges: [], eps: [], copyTo: [] };
  const start = newState(b);
  const end = build(b, rules, rules.get("root")!.body, start);
  const count = b.edges.length;
  const closure: Int32Array[] = [];
  for (let s = 0; s < count; s++) {
    const seen = new Set([s]);
    const stack = [s];
    while (stack.length) for (const t of b.eps[stack.pop()!]) if (!seen.has(t)) { seen.add(t); stack.push(t); }
    closure.push(Int32Array.from([...seen].sort((x, y) => x - y)));
  }
  const accept = new Uint8Array(count);
  for (let s = 0; s < count; s++) if (closure[s].includes(end)) accept[s] = 1;
  return { start, accept, edges: b.edges, copyTo: Int32Array.from(b.copyTo), closure };
}
