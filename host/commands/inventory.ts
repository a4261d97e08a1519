// The intent inventory of home commands: which slots each intent takes and what a slot's value
// may be. Derived from labelled lines (tools/derive-intents.ts); holds names only, no data lines.
import { copyText } from "../grammar/matcher.js";
import type { Home } from "./home.js";
import { labelProblem, parseLabel as parseLabelText } from "./labels.js";

export type HomeList = "areas" | "floors" | "entities";

export interface SlotSpec {
  number: boolean;       // a number as Home Assistant writes it: -?[0-9]+(.[0-9]+)?
  copy: boolean;         // words copied from the sentence
  values: string[];      // fixed words (domain names, states, ...)
  home: HomeList | null; // one of the home's names (and, without a home, a copy)
}

export interface Inventory {
  intents: Record<string, string[]>; // intent -> slot names it was seen with, sorted
  slots: Record<string, SlotSpec>;
}

export type { Home };

export interface LabelledLine { sentence: string; intent: string; slots: [string, string][]; home: Home }

const NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;

// A label as intent and [slot, value] pairs in the label's order (labels.ts parses it).
export function parseLabel(label: string): { intent: string; slots: [string, string][] } {
  const l = parseLabelText(label);
  if (!l) throw new Error(`not a label: ${label}: ${labelProblem(label)}`);
  return { intent: l.intent, slots: Object.entries(l.slots) };
}

export function homeNames(home: Home, list: HomeList): string[] {
  const names = list === "entities" ? home.entities.map((e) => e[0]) : home[list];
  return names.map((n) => n.toLowerCase());
}

// A slot's values are numbers when most are; the others are a copy when every one of them
// appears as whole words of its sentence, else a fixed list; a home list when most values are
// names from that list of their own home.
export function deriveInventory(lines: LabelledLine[]): Inventory {
  const intents = new Map<string, Set<string>>();
  const seen = new Map<string, { total: number; numeric: number; words: Map<string, number>; copied: number; other: number; home: Record<HomeList, number> }>();
  for (const line of lines) {
    const slotNames = intents.get(line.intent) ?? new Set<string>();
    intents.set(line.intent, slotNames);
    const text = ` ${new TextDecoder().decode(copyText(line.sentence))} `;
    for (const [name, value] of line.slots) {
      slotNames.add(name);
      const s = seen.get(name) ?? { total: 0, numeric: 0, words: new Map(), copied: 0, other: 0, home: { areas: 0, floors: 0, entities: 0 } };
      seen.set(name, s);
      s.total++;
      for (const list of ["areas", "floors", "entities"] as const) if (homeNames(line.home, list).includes(value)) s.home[list]++;
      if (NUMBER.test(value)) { s.numeric++; continue; }
      s.other++;
      s.words.set(value, (s.words.get(value) ?? 0) + 1);
      if (text.includes(` ${value} `)) s.copied++;
    }
  }
  const slots: Record<string, SlotSpec> = {};
  for (const [name, s] of [...seen].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const best = (["areas", "floors", "entities"] as const).reduce((a, b) => (s.home[b] > s.home[a] ? b : a));
    const home = s.home[best] * 2 > s.total ? best : null;
    const copy = home !== null || (s.other > 0 && s.copied === s.other);
    const values = copy ? [] : [...s.words.keys()].sort();
    slots[name] = { number: s.numeric * 2 > s.total, copy, values, home };
  }
  const sortedIntents: Record<string, string[]> = {};
  for (const [intent, names] of [...intents].sort(([a], [b]) => (a < b ? -1 : 1))) sortedIntents[intent] = [...names].sort();
  return { intents: sortedIntents, slots };
}
