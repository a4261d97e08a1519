// The MeZO exports' checks and glue (index.ts → mezo.ts); errors as module codes.
import * as E from "../core/errors";
import { resealAdapter } from "../adapter/file";
import { lastImage, lastImageBytes } from "../model/lora";
import { batchLoss, lastLossError, mezoStep, parameterCount, perturb, pick as pickExample, trainable } from "./mezo";

@inline function seedOf(lo: u32, hi: u32): u64 { return (<u64>hi << 32) | <u64>lo; }

export function parameters(): i32 { return parameterCount(); }
export function inPlace(): i32 { return trainable() ? 1 : 0; }

export function step(seedLo: u32, seedHi: u32, t: u32, eps: f32, lr: f32, batch: usize, count: i32, out: usize): i32 {
  return mezoStep(seedOf(seedLo, seedHi), t, eps, lr, batch, count, out);
}

export function loss(batch: usize, count: i32, out: usize): i32 {
  if (count < 1) return E.E_ARGUMENT;
  const l = batchLoss(batch, count);
  const err = lastLossError();
  if (err != E.OK) return err;
  store<f32>(out, <f32>l);
  return E.OK;
}

export function replay(seedLo: u32, seedHi: u32, t: u32, c: f32): i32 {
  if (!trainable() || !isFinite(c)) return E.E_ARGUMENT;
  perturb(seedOf(seedLo, seedHi), t, c);
  return E.OK;
}

export function reseal(): i32 {
  if (!trainable()) return E.E_ARGUMENT;
  resealAdapter(lastImage, lastImageBytes);
  return <i32>lastImage;
}

export function pick(seedLo: u32, seedHi: u32, t: u32, b: u32, n: i32): i32 {
  return n < 1 ? E.E_ARGUMENT : <i32>pickExample(seedOf(seedLo, seedHi), t, b, <u32>n);
}
