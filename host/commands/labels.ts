// Home Assistant intent labels as the home-command data writes them (../shared/data/home-commands/
// README.md): `Intent ; slot=value ; …`, slots sorted by name. Parsing for `commands --json`,
// equality for scoring (lower-cased, runs of white space collapsed), and the scores the issue's
// goals are stated in: exact match of the whole label, and of the intent alone.

export interface Label {
  intent: string;
  slots: Record<string, string>; // in the label's order (sorted by slot name when well formed)
}

// Why a string is not a label, or null.
export function labelProblem(text: string): string | null {
  const parts = text.split(";").map((p) => p.trim());
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(parts[0])) return `'${parts[0]}' is not an intent name`;
  const seen = new Set<string>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf("=");
    if (eq <= 0) return `'${p}' is not slot=value`;
    const name = p.slice(0, eq).trim();
    if (!/^[a-z][a-z0-9_]*$/.test(name)) return `'${name}' is not a slot name`;
    if (seen.has(name)) return `slot '${name}' appears twice`;
    seen.add(name);
  }
  return null;
}

// A label, or null when the text is not one (a model's output may not be).
export function parseLabel(text: string): Label | null {
  if (labelProblem(text) !== null) return null;
  const [intent, ...rest] = text.split(";").map((p) => p.trim());
  const slots: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf("=");
    slots[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return { intent, slots };
}

// `commands --json`'s line for an output: {"intent": …, "slots": {…}}, or intent null with the
// text when the output is not a label (unconstrained decoding may write anything).
export function labelJson(text: string): string {
  const l = parseLabel(text);
  return JSON.stringify(l ? { intent: l.intent, slots: l.slots } : { intent: null, slots: {}, text });
}

// The data's rule: equal after lower-casing and collapsing runs of white space.
export function normalizeLabel(text: string): string {
  return text.toLowerCase().replace(/\s+/g, " ").trim();
}

export const sameLabel = (a: string, b: string): boolean => normalizeLabel(a) === normalizeLabel(b);
export const intentOf = (text: string): string => normalizeLabel(text.split(";")[0]);

export interface Score {
  examples: number;
  exact: number;  // fraction with the whole label right
  intent: number; // fraction with the intent right
  byIntent: Map<string, { examples: number; exact: number; intent: number }>; // by the expected intent
}

export function score(pairs: Iterable<{ want: string; got: string }>): Score {
  let n = 0, exact = 0, intent = 0;
  const byIntent = new Map<string, { examples: number; exact: number; intent: number }>();
  for (const { want, got } of pairs) {
    const k = intentOf(want);
    const row = byIntent.get(k) ?? { examples: 0, exact: 0, intent: 0 };
    const e = sameLabel(want, got) ? 1 : 0, i = intentOf(got) === k ? 1 : 0;
    n++; exact += e; intent += i;
    row.examples++; row.exact += e; row.intent += i;
    byIntent.set(k, row);
  }
  for (const row of byIntent.values()) { row.exact /= row.examples; row.intent /= row.examples; }
  return { examples: n, exact: n ? exact / n : 0, intent: n ? intent / n : 0, byIntent };
}
