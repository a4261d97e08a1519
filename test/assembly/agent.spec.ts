import { FlatObject, J_ARRAY, J_FALSE, J_NULL, J_NUMBER, J_OBJECT, J_STRING, J_TRUE, JSON_NOT_OBJECT, JSON_OK, JSON_SYNTAX, parseNumber } from "../../assembly/agent/json";
import { base64Encode, base64Len } from "../../assembly/agent/base64";
import { isName, KIND_CANCEL, KIND_TASK, parseInbox, writeInboxFilter, writePeerTopic } from "../../assembly/agent/topics";
import { Writer } from "../../assembly/agent/writer";

// ASCII / UTF-8 test text into fresh memory (String.UTF8 keeps non-ASCII literals exact).
function bytesOf(s: string): usize {
  const b = String.UTF8.encode(s);
  const p = heap.alloc(<usize>max(b.byteLength, 1));
  memory.copy(p, changetype<usize>(b), <usize>b.byteLength);
  return p;
}
function lenOf(s: string): i32 { return String.UTF8.byteLength(s); }
function textOf(p: usize, n: i32): string { return String.UTF8.decodeUnsafe(p, <usize>n); }

const NAMES: StaticArray<string> = ["a", "b", "prompt"];

function parse(o: FlatObject, s: string): i32 { return o.parse(bytesOf(s), lenOf(s)); }

function decoded(o: FlatObject, i: i32): string {
  const out = heap.alloc(256);
  const n = o.stringOf(i, out, 256);
  return textOf(out, min(n, 256));
}

describe("json: the flat-object reader", () => {
  test("records members by name, the last occurrence winning; counts unknown names", () => {
    const o = new FlatObject(NAMES);
    expect(parse(o, ` {"a": 1, "zz": [1, {"x": null}], "b": "s", "a": true } `)).toBe(JSON_OK);
    expect(o.type[0]).toBe(J_TRUE);
    expect(o.type[1]).toBe(J_STRING);
    expect(o.type[2]).toBe(0);
    expect(o.unknown).toBe(1);
    expect(parse(o, `{"a":{},"b":[],"prompt":null}`)).toBe(JSON_OK);
    expect(o.type[0]).toBe(J_OBJECT);
    expect(o.type[1]).toBe(J_ARRAY);
    expect(o.type[2]).toBe(J_NULL);
    expect(parse(o, `{"a":false,"b":-0.5e+3}`)).toBe(JSON_OK);
    expect(o.type[0]).toBe(J_FALSE);
    expect(o.type[1]).toBe(J_NUMBER);
    expect(o.numberOf(1)).toBe(-500.0);
    expect(parse(o, `{"\\u0061":1}`)).toBe(JSON_OK); // an escaped name is still "a"
    expect(o.type[0]).toBe(J_NUMBER);
  });

  test("refuses what JSON.parse refuses; tells non-objects apart", () => {
    const bad: StaticArray<string> = [``, ` `, `{`, `{"a":1,}`, `{"a":1} x`, `{"a" 1}`, `{a:1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
      `{"a":+1}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\\x"}`, `{"a":"\\u12G4"}`, `{"a":"tab\there"}`, `{"a":[1,]}`, `{"a":[1 2]}`,
      `{"a":{"b"}}`, `{"a":{"b":1,}}`, `{"a":"unterminated}`, `[1,2`, `nul`, `"x" "y"`];
    const o = new FlatObject(NAMES);
    for (let i = 0; i < bad.length; i++) {
      const r = parse(o, bad[i]);
      if (r != JSON_SYNTAX) trace("accepted: " + bad[i]);
      expect(r).toBe(JSON_SYNTAX);
    }
    expect(parse(o, `[1, 2]`)).toBe(JSON_NOT_OBJECT);
    expect(parse(o, ` "s" `)).toBe(JSON_NOT_OBJECT);
    expect(parse(o, `-1.5E-3`)).toBe(JSON_NOT_OBJECT);
    expect(parse(o, `null`)).toBe(JSON_NOT_OBJECT);
    expect(parse(o, `{}`)).toBe(JSON_OK);
  });

  test("nesting is checked without recursion, up to 256 levels", () => {
    const o = new FlatObject(NAMES);
    expect(parse(o, `{"x":` + "[".repeat(255) + "]".repeat(255) + `}`)).toBe(JSON_OK);
    expect(parse(o, `{"x":` + "[".repeat(257) + "]".repeat(257) + `}`)).toBe(JSON_SYNTAX);
    expect(parse(o, `{"x":` + "[".repeat(10) + "]".repeat(9) + `}`)).toBe(JSON_SYNTAX);
  });

  test("strings decode to UTF-8: escapes, surrogate pairs, lone surrogates → U+FFFD", () => {
    const o = new FlatObject(NAMES);
    expect(parse(o, `{"prompt":"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u2603\\ud83d\\ude00é"}`)).toBe(JSON_OK);
    expect(decoded(o, 2)).toBe("a\"\\/\b\f\n\r\té☃😀é");
    expect(o.strChars).toBe(13); // the pair counts once, as JavaScript's ucs2length counts
    expect(parse(o, `{"prompt":"\\ud800x\\udc00\\ud83d\\ud83d\\ude00"}`)).toBe(JSON_OK);
    expect(decoded(o, 2)).toBe("\uFFFDx\uFFFD\uFFFD😀");
    expect(o.strChars).toBe(5);
    expect(o.strBytes).toBe(3 + 1 + 3 + 3 + 4);
  });

  test("invalid UTF-8 inside strings becomes U+FFFD per maximal subpart, as Buffer.toString", () => {
    const o = new FlatObject(NAMES);
    const raw: StaticArray<u8> = [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98, 0xed, 0xa0, 0x80, 0x22, 0x7d];
    const p = heap.alloc(<usize>raw.length);
    for (let i = 0; i < raw.length; i++) store<u8>(p + <usize>i, raw[i]);
    expect(o.parse(p, raw.length)).toBe(JSON_OK);
    // ff → FFFD; c3 then '(' → FFFD '('; e2 82 → FFFD; f0 9f 98 → FFFD; ed a0 80 → FFFD FFFD FFFD
    expect(decoded(o, 0)).toBe("\uFFFD\uFFFD(\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD");
  });

  test("numbers: the nearest f64 on the fast path, exponents and signs", () => {
    const cases: StaticArray<string> = ["0", "-0", "1", "0.1", "0.9", "1e2", "1E+2", "2.5e-3", "100", "4294967295", "4294967296", "0.000001", "123456789012345678", "1e22", "1e-22"];
    const want: StaticArray<f64> = [0, -0.0, 1, 0.1, 0.9, 100, 100, 0.0025, 100, 4294967295, 4294967296, 0.000001, 123456789012345678, 1e22, 1e-22];
    for (let i = 0; i < cases.length; i++) {
      const s = cases[i];
      const p = bytesOf(s);
      expect(parseNumber(p, p + <usize>s.length)).toBe(want[i]);
    }
    const big = "1e400";
    const q = bytesOf(big);
    expect(parseNumber(q, q + 5)).toBe(Infinity);
  });
});

describe("base64", () => {
  test("RFC 4648 test vectors", () => {
    const ins: StaticArray<string> = ["", "f", "fo", "foo", "foob", "fooba", "foobar"];
    const outs: StaticArray<string> = ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"];
    const dst = heap.alloc(64);
    for (let i = 0; i < ins.length; i++) {
      const n = base64Encode(bytesOf(ins[i]), ins[i].length, dst);
      expect(n).toBe(base64Len(ins[i].length));
      expect(textOf(dst, n)).toBe(outs[i]);
    }
  });

  test("every byte value, split UTF-8 included", () => {
    const src = heap.alloc(3);
    store<u8>(src, 0xfb); store<u8>(src, 0xff, 1); store<u8>(src, 0xbf, 2);
    const dst = heap.alloc(8);
    expect(textOf(dst, base64Encode(src, 3, dst))).toBe("+/+/");
    store<u8>(src, 0xe2); store<u8>(src, 0x80, 1);
    expect(textOf(dst, base64Encode(src, 2, dst))).toBe("4oA=");
    store<u8>(src, 0x00);
    expect(textOf(dst, base64Encode(src, 1, dst))).toBe("AA==");
  });
});

describe("topics", () => {
  test("names: ^[A-Za-z0-9_-]{1,64}$", () => {
    expect(isName(bytesOf("a-Z_9"), 5)).toBe(true);
    expect(isName(bytesOf("x".repeat(64)), 64)).toBe(true);
    expect(isName(bytesOf("x".repeat(65)), 65)).toBe(false);
    expect(isName(bytesOf(""), 0)).toBe(false);
    expect(isName(bytesOf("a+b"), 3)).toBe(false);
    expect(isName(bytesOf("a/b"), 3)).toBe(false);
    expect(isName(bytesOf("a#"), 2)).toBe(false);
    expect(isName(bytesOf("é"), 2)).toBe(false);
  });

  test("built topics", () => {
    const w = new Writer(heap.alloc(256), 256);
    const f = bytesOf("home"), id = bytesOf("p-1");
    writePeerTopic(w, f, 4, id, 3, "result");
    expect(textOf(w.buf, w.n)).toBe("edgellm/v1/home/peer/p-1/result");
    writeInboxFilter(w.reset(), f, 4, id, 3);
    expect(textOf(w.buf, w.n)).toBe("edgellm/v1/home/to/p-1/+");
  });

  test("the inbox is parsed; anything else is refused with a reason", () => {
    const f = bytesOf("f1"), id = bytesOf("p1");
    const why = new Writer(heap.alloc(512), 512);
    const ok: StaticArray<string> = ["edgellm/v1/f1/to/p1/task", "edgellm/v1/f1/to/p1/cancel"];
    expect(parseInbox(bytesOf(ok[0]), ok[0].length, f, 2, id, 2, why.reset())).toBe(KIND_TASK);
    expect(parseInbox(bytesOf(ok[1]), ok[1].length, f, 2, id, 2, why.reset())).toBe(KIND_CANCEL);
    const bad: StaticArray<string> = ["edgellm/v1/f1/to/p2/task", "edgellm/v1/f2/to/p1/task", "edgellm/v2/f1/to/p1/task", "other/v1/f1/to/p1/task",
      "edgellm/v1/f+1/to/p1/task", "edgellm/v1/f1/to/p1/result", "edgellm/v1/f1/peer/p1/task", "edgellm/v1/f1/peer/p1/status", "edgellm/v1/f1/gw/submit",
      "edgellm/v1/f1/to/p1", "edgellm/v1/f1/to/p1/task/", "edgellm/v1/f1/to//task", "edgellm/v1/f1/to/p1/tas", "", "edgellm", "edgellm/v1/f1/to/p1/task/a/b/c"];
    const reasons: StaticArray<string> = ["not this peer's inbox", "not this peer's inbox", "unsupported protocol version 'v2'", "is outside edgellm/",
      "bad fleet name", "unknown kind 'result' under 'to'", "unknown kind 'task' under 'peer'", "not a peer inbox", "not a peer inbox",
      "expected to/<id>/<kind>", "expected to/<id>/<kind>", "expected to/<id>/<kind>", "unknown kind 'tas' under 'to'", "is outside edgellm/",
      "unsupported protocol version ''", "expected to/<id>/<kind>"];
    for (let i = 0; i < bad.length; i++) {
      expect(parseInbox(bytesOf(bad[i]), bad[i].length, f, 2, id, 2, why.reset())).toBe(-1);
      const r = textOf(why.buf, why.n);
      if (!r.includes(reasons[i])) trace(bad[i] + " → " + r);
      expect(r.includes(reasons[i])).toBe(true);
      expect(r.startsWith("topic '" + bad[i] + "'")).toBe(true);
    }
  });
});

describe("writer", () => {
  test("numbers: fixed decimals with trailing zeros dropped; never invalid JSON", () => {
    const w = new Writer(heap.alloc(64), 64);
    w.fixed(1.5, 3); expect(textOf(w.buf, w.n)).toBe("1.5");
    w.reset().fixed(12, 3); expect(textOf(w.buf, w.n)).toBe("12");
    w.reset().fixed(0.0125, 3); expect(textOf(w.buf, w.n)).toBe("0.013");
    w.reset().fixed(1234.56, 1); expect(textOf(w.buf, w.n)).toBe("1234.6");
    w.reset().fixed(1700000000000.25, 3); expect(textOf(w.buf, w.n)).toBe("1700000000000.25");
    w.reset().fixed(-3, 3); expect(textOf(w.buf, w.n)).toBe("0");
    w.reset().fixed(NaN, 3); expect(textOf(w.buf, w.n)).toBe("0");
    w.reset().u64(18446744073709551615); expect(textOf(w.buf, w.n)).toBe("18446744073709551615");
    w.reset().i32(-2147483648); expect(textOf(w.buf, w.n)).toBe("-2147483648");
  });

  test("JSON strings are escaped; overflow is sticky and copyTo refuses it", () => {
    const w = new Writer(heap.alloc(64), 64);
    const s = "a\"b\\c\n\x01é";
    w.jsonString(bytesOf(s), lenOf(s));
    expect(textOf(w.buf, w.n)).toBe("\"a\\\"b\\\\c\\u000a\\u0001é\"");
    const small = new Writer(heap.alloc(4), 4);
    small.ascii("abcdef").ascii("g");
    expect(small.overflow).toBe(true);
    expect(small.copyTo(heap.alloc(16), 16)).toBe(-1);
    const out = heap.alloc(8);
    expect(new Writer(heap.alloc(8), 8).ascii("abc").copyTo(out, 8)).toBe(3);
    expect(load<u8>(out, 3)).toBe(0);
  });
});
