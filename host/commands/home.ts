// A home's description (one object of the data's homes.json): its areas, floors and devices,
// which `commands --home` gives the model and the label grammar. Checked by a schema, so a
// malformed file is refused with the place that is wrong.
import { Ajv } from "ajv";

export interface Home {
  areas: string[];
  floors: string[];
  entities: [name: string, domain: string, attributes: Record<string, unknown>][];
}

const name = { type: "string", minLength: 1, maxLength: 128 };
const HOME_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["areas", "floors", "entities"],
  properties: {
    areas: { type: "array", maxItems: 1024, items: name },
    floors: { type: "array", maxItems: 256, items: name },
    entities: {
      type: "array", maxItems: 4096,
      items: { type: "array", minItems: 3, maxItems: 3, items: [name, { type: "string", pattern: "^[a-z_]{1,64}$" }, { type: "object" }] },
    },
  },
};

const validate = new Ajv({ allErrors: false, strict: false }).compile<Home>(HOME_SCHEMA);

// The home in a JSON text, or a one-line reason it is not one.
export function parseHome(text: string): Home | string {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { return `not JSON (${(e as Error).message.split("\n")[0]})`; }
  if (validate(v)) return v;
  const err = validate.errors?.[0];
  return `${err?.instancePath || "the home"} ${err?.message ?? "is not a home object"} (expected {"areas": [...], "floors": [...], "entities": [[name, domain, {...}], ...]})`;
}
