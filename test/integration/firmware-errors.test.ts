// Bad input to the firmware: corrupt modules and model files, bad flags, and host functions
// called with out-of-range guest pointers. Each must give one error line and exit 1.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { expectCleanError, FW, fw, model, ROOT, TOKENIZER, workDir } from "./firmware-helpers.js";

const MODULE = join(ROOT, "build", "edgellm.wasm");

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(workDir, name);
  writeFileSync(p, bytes);
  return p;
}

test("a corrupt, truncated, empty or missing module gives one error line and exit 1", () => {
  const good = readFileSync(MODULE);
  const flipped = Buffer.from(good);
  for (let i = 64; i < flipped.length; i += 97) flipped[i] ^= 0x5a;
  const cases: [string, string][] = [
    [file("garbage.wasm", "this is not wasm"), "module"],
    [file("truncated.wasm", good.subarray(0, good.length >> 1)), "module"],
    [file("flipped.wasm", flipped), "."],
    [file("empty.wasm", ""), "empty"],
    [join(workDir, "missing.wasm"), "No such file"],
  ];
  for (const [path, what] of cases) {
    const r = fw(["run", model("int8"), "-t", "0", "-n", "8", "--module", path]);
    assert.equal(expectCleanError(r, new RegExp(what)), null, path);
  }
  // A valid module that is not the MVP build (SIMD instructions wasm3 cannot run): named as the
  // module's fault at load, where lazy compilation used to fail only at the first step.
  const simd = fw(["run", model("int8"), "-t", "0", "-n", "8", "--module", join(ROOT, "build", "edgellm.simd.wasm")]);
  assert.equal(expectCleanError(simd, /^edgellm-fw: error: module: /), null);
});

test("the module carries a seal the firmware checks before parsing: two flipped bytes or none are refused", () => {
  const good = readFileSync(MODULE);
  const twoBytes = Buffer.from(good);
  twoBytes[good.length >> 1] ^= 0x01;
  twoBytes[(good.length >> 1) + 1] ^= 0x01;
  const unsealed = good.subarray(0, good.length - 20); // the seal is the last 20 bytes
  const r1 = fw(["run", model("int8"), "-n", "4", "--module", file("two-bytes.wasm", twoBytes)]);
  assert.equal(expectCleanError(r1, /module: checksum mismatch: the file is damaged/), null);
  const r2 = fw(["run", model("int8"), "-n", "4", "--module", file("unsealed.wasm", unsealed)]);
  assert.equal(expectCleanError(r2, /module: not sealed/), null);
  assert.equal(fw(["run", model("int8"), "-n", "4", "--module", MODULE]).status, 0, "the build's sealed module runs");
});

test("a failed write of the output is an error, not exit 0", () => {
  const r = spawnSync(FW, ["run", model("int8"), "-t", "0", "-n", "8"], { stdio: ["ignore", openSync("/dev/full", "w"), "pipe"], encoding: "utf8" });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^edgellm-fw: error: writing the output: No space left on device\n$/);
});

test("a corrupt, truncated or foreign model file gives one error line naming the problem", () => {
  const good = readFileSync(model("int8"));
  const corrupt = Buffer.from(good); corrupt[good.length - 100] ^= 1;
  const badMagic = Buffer.from(good); badMagic[0] = 0x58;
  const cases: [string, RegExp][] = [
    [file("corrupt.ellm", corrupt), /checksum/],
    [file("truncated.ellm", good.subarray(0, good.length - 64)), /truncated/],
    [file("short.ellm", good.subarray(0, 50)), /shorter than the header/],
    [file("magic.ellm", badMagic), /bad magic/],
    [TOKENIZER, /bad magic/],
    [join(workDir, "nope.ellm"), /No such file/],
  ];
  for (const [path, want] of cases) {
    for (const extra of [[], ["--host-weights"]]) {
      const r = fw(["run", path, "-z", TOKENIZER, "-t", "0", "-n", "8", ...extra]);
      assert.equal(expectCleanError(r, want), null, `${path} ${extra.join(" ")}`);
    }
  }
  const r = fw(["run", model("int8", false), "-t", "0", "-n", "8"]);
  assert.equal(expectCleanError(r, /no tokenizer/), null);
  const t = fw(["run", model("int8", false), "-z", file("tok.bin", readFileSync(TOKENIZER).subarray(0, 999)), "-n", "8"]);
  assert.equal(expectCleanError(t, /tokenizer/), null);
});

test("bad flags are refused with a usage error (exit 2)", () => {
  for (const args of [["run", model("int8"), "extra.ellm"], ["run", model("int8"), "-t", "abc"], ["run", model("int8"), "-p", "2"],
    ["run", model("int8"), "-n", "-5"], ["run", model("int8"), "--max-memory"], ["run", model("int8"), "--bogus"], ["serve"],
    ["run", model("int8"), "-s", " -1"], ["run", model("int8"), "-n", " 5"], ["run", model("int8"), "--stack", "4096"],
    ["serve", "--broker", "mqtt://127.0.0.1:1", "--id", "x", "--stack", "4096"], ["serve", "--broker", "mqtt://127.0.0.1:1", "--max-queue", " 3"],
    ["serve", "--broker", "mqtt://[::1", "--model", model("int8"), "--id", "x"]]) {
    const r = fw(args);
    assert.equal(r.signal, null);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^edgellm-fw: error: /);
  }
  // An unknown flag is called unknown wherever it stands, not "needs a value" when it comes last.
  for (const args of [["run", model("int8"), "--frob"], ["run", model("int8"), "--kv-int8=1"], ["serve", "--broker", "mqtt://127.0.0.1:1", "--frob"]]) {
    const r = fw(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^edgellm-fw: error: unknown option '${args.at(-1)}'`));
  }
});

test("--help prints the command's usage on stdout and exits 0", () => {
  for (const cmd of ["run", "serve"]) {
    const r = fw([cmd, "--help"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString("utf8"), new RegExp(`^usage: edgellm-fw ${cmd} `));
    assert.equal(r.stderr, "");
  }
});

// A hostile module that calls the host functions with out-of-range pointers; which call it
// makes is chosen by the size of the "model" file it is given (modelLoadExternal(n)).
const HOSTILE = `
@external("env", "wRead") declare function wRead(dst: u32, off: u32, len: u32): i32;
@external("env", "wMatvec") declare function wMatvec(q: u32, data: u32, g: i32, rows: i32, cols: i32, y: u32, x: u32, xq: u32, sa: f32): void;
@external("env", "wRow") declare function wRow(q: u32, data: u32, g: i32, rows: i32, cols: i32, r: i32, out: u32): void;
@external("env", "log") declare function log(p: u32, n: u32): void;
@external("env", "kvScores") declare function kvScores(att: u32, q: u32, k: u32, ks: u32, n: i32, hs: i32, kvDim: i32, nkv: i32, sq: f32): void;
@external("env", "kvMix") declare function kvMix(out: u32, att: u32, v: u32, vs: u32, n: i32, hs: i32, kvDim: i32, nkv: i32): void;
export function modelLoadExternal(n: i32): i32 {
  if (n == 13) while (true) {}                  // never returns: the host's call timeout ends it
  const top = <u32>memory.size() << 16;
  if (n == 1) wRead(top - 8, 0, 16);            // destination runs past linear memory
  if (n == 2) wRead(0xfffffff0, 0, 1);          // destination far outside
  if (n == 3) wRead(1024, 0, 4096);             // reads past the end of the model file
  if (n == 4) wMatvec(0, 0, 0, 1, 1, top, 64, 64, 1); // y outside
  if (n == 5) wMatvec(0, 0, 0, 64, 64, 64, 64, 64, 1); // a 16 KiB f32 matrix in a 5-byte file
  if (n == 6) wRow(0, 0, 0, 1, 1, 0, top - 2);  // out straddles the end
  if (n == 7) log(0x7ffffff0, 0x7ffffff0);      // length overflows
  if (n == 8) wMatvec(7, 0, 0, 1, 1, 64, 64, 64, 1);  // unknown qtype
  if (n == 9) kvScores(top - 4, 64, 64, 64, 2, 8, 32, 4, 1);   // att[1] past the end
  if (n == 10) kvMix(64, 64, top - 64, 64, 3, 8, 32, 4);        // value row t=2 past the end
  if (n == 11) kvScores(64, 64, 64, 64, 0x7fffffff, 8, 0x7fffffff, 4, 1); // strides overflow 32 bits
  if (n == 12) kvMix(64, 128, 256, 512, 2, 8, 32, 4);           // in range: runs
  return 0;
}
export function alloc(n: i32): i32 { return 1024; }
export function modelLoad(p: i32, n: i32): i32 { return 0; }
export function tokenizerLoad(p: i32, n: i32): i32 { return 0; }
export function modelInit(c: i32, k: i32): i32 { return 1; }
export function modelField(f: i32): i32 { return 1; }
export function samplerInit(t: f32, p: f32, a: i32, b: i32): i32 { return 0; }
export function genStart(p: i32, n: i32, s: i32): i32 { return 0; }
export function genNext(now: f64): i32 { return 1; }
export function genCancel(): void {}
export function genOutput(): i32 { return 64; }
export function genOutputLen(): i32 { return 0; }
export function genPosition(): i32 { return 1; }
export function encode(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32): i32 { return 1; }
export function decode(a: i32, b: i32, c: i32, d: i32): i32 { return 0; }
export function setMemoryLimit(b: i32): void {}
`;

test("host functions refuse out-of-range guest pointers and model offsets (trap, one line, exit 1)", () => {
  const src = file("hostile.ts", HOSTILE);
  const wasm = join(workDir, "hostile.wasm");
  execFileSync(process.execPath, [join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js"), src, "-o", wasm, "--runtime", "stub", "-O1"]);
  execFileSync(process.execPath, [join(ROOT, "scripts", "seal-wasm.mjs"), wasm]); // the firmware runs sealed modules only
  const want: RegExp[] = [/guest pointer.*wRead/, /guest pointer.*wRead/, /model offset.*wRead/, /guest pointer.*wMatvec/,
    /model offset.*wMatvec/, /guest pointer.*wRow/, /guest pointer.*log/, /model offset.*wMatvec/,
    /guest pointer.*kvScores/, /guest pointer.*kvMix/, /guest pointer.*kvScores/];
  want.forEach((pattern, i) => {
    const n = i + 1;
    const r = fw(["run", file(`size${n}.bin`, "x".repeat(n)), "--host-weights", "--module", wasm, "-n", "4"]);
    assert.equal(expectCleanError(r, pattern), null, `case ${n}`);
  });
  // A call that never returns is ended by the host's bound, naming the call.
  const t0 = Date.now();
  const loop = fw(["run", file("size13.bin", "x".repeat(13)), "--host-weights", "--module", wasm, "-n", "4", "--call-timeout", "1"]);
  assert.equal(expectCleanError(loop, /module: model ran for more than the call timeout \(--call-timeout\)/), null);
  assert.ok(Date.now() - t0 < 20_000, "stopped within the bound");
  // The same module with an in-range call runs to the end.
  const ok = fw(["run", file("size12.bin", "x".repeat(12)), "--host-weights", "--module", wasm, "-t", "0", "-n", "4"]);
  assert.equal(ok.status, 0, ok.stderr);
});

test("pack-firmware images run unchanged under the POSIX build, and a flipped byte is caught by their CRC", async () => {
  const { packFirmware } = await import("../../tools/pack-firmware.js");
  const { crc32 } = await import("node:zlib");
  const out = join(workDir, "esp32");
  const r = packFirmware({ module: MODULE, model: model("ternary"), partitions: join(ROOT, "firmware", "esp32", "partitions.csv"), outDir: out });
  assert.equal(r.flashArgs, "0x110000 module.bin\n0x150000 model.bin\n");
  const image = readFileSync(join(out, "model.bin"));
  assert.equal(image.readUInt32LE(8), crc32(image.subarray(16)));
  const run = fw(["run", join(out, "model.bin"), "--module", join(out, "module.bin"), "-t", "0", "-n", "32", "--host-weights",
    "--kv-int8", "--ctx", "128", "--max-memory", "147456"]);
  assert.equal(run.status, 0, run.stderr);
  const direct = fw(["run", model("ternary"), "-t", "0", "-n", "32", "--host-weights", "--kv-int8", "--ctx", "128"]);
  assert.deepEqual(run.stdout, direct.stdout);
  image[5000] ^= 1;
  const bad = fw(["run", file("flipped-pack.bin", image), "--module", join(out, "module.bin"), "-n", "4"]);
  assert.equal(expectCleanError(bad, /CRC mismatch/), null);
  assert.throws(() => packFirmware({ module: MODULE, model: TOKENIZER, partitions: join(ROOT, "firmware", "esp32", "partitions.csv"), outDir: out }));
});

test("a module that recurses without end traps with a stack overflow, whatever the wasm stack size", () => {
  const src = file("recurse.ts", `
function rec(n: i32): i32 { return n > 0x7ffffff0 ? 0 : rec(n + 1) + 1; }
export function modelLoadExternal(n: i32): i32 { return rec(n); }
${HOSTILE.split("\n").filter((l) => l.startsWith("export function") && !l.includes("modelLoadExternal")).join("\n")}
`);
  const wasm = join(workDir, "recurse.wasm");
  execFileSync(process.execPath, [join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js"), src, "-o", wasm, "--runtime", "stub", "-O1"]);
  execFileSync(process.execPath, [join(ROOT, "scripts", "seal-wasm.mjs"), wasm]); // the firmware runs sealed modules only
  for (const stack of ["8192", "33554432"]) {
    const r = fw(["run", file("rec.bin", "xy"), "--host-weights", "--module", wasm, "--stack", stack]);
    assert.equal(expectCleanError(r, /stack overflow/), null, `--stack ${stack}`);
  }
});
