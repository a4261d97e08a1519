// The adapters a peer holds (docs/protocol.md §3 status `adapters`, task `adapter`): each an id
// the status announces and the index of its links held by model/lora.ts (adapterHold). The
// host adds them once, after agentInit and before agentConnected; a task names one by id and
// the agent switches to it (useHeld) when the task starts.
import * as E from "../core/errors";
import { fits } from "../core/memory-cap";
import { heldAdapters } from "../model/lora";
import { Writer } from "./writer";

export const MAX_ADAPTERS: i32 = 32; // host/fleet/schemas.ts MAX_PEER_ADAPTERS
export const MAX_ADAPTER_ID: i32 = 128; // an adapter id: ^[A-Za-z0-9_.-]{1,128}$

// ^[A-Za-z0-9_.-]{1,128}$: an adapter id (host/fleet/schemas.ts ADAPTER_ID_PATTERN).
export function isAdapterId(p: usize, n: i32): bool {
  if (n < 1 || n > MAX_ADAPTER_ID) return false;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2d || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}

export class AdapterSet {
  ids: StaticArray<usize> = new StaticArray<usize>(MAX_ADAPTERS);
  lens: StaticArray<i32> = new StaticArray<i32>(MAX_ADAPTERS);
  held: StaticArray<i32> = new StaticArray<i32>(MAX_ADAPTERS);
  count: i32 = 0;
  idBytes: i32 = 0; // the ids' total length

  // Bytes the list takes in a status message: ,"adapters":["a","b"]
  jsonBytes(): i32 { return this.count == 0 ? 0 : 14 + this.idBytes + 3 * this.count; }

  // E_NAME: not an adapter id; E_ARGUMENT: a duplicate id, too many, or not a held index.
  add(id: usize, n: i32, heldIndex: i32): i32 {
    if (!isAdapterId(id, n)) return E.E_NAME;
    if (this.count >= MAX_ADAPTERS || this.find(id, n) >= 0 || heldIndex < 0 || heldIndex >= heldAdapters()) return E.E_ARGUMENT;
    if (!fits(<i64>n + 32)) return E.E_OUT_OF_MEMORY;
    const p = heap.alloc(<usize>n);
    memory.copy(p, id, <usize>n);
    const i = this.count++;
    this.ids[i] = p; this.lens[i] = n; this.held[i] = heldIndex;
    this.idBytes += n;
    return i;
  }

  // The entry of id p[n], or -1.
  find(p: usize, n: i32): i32 {
    for (let i = 0; i < this.count; i++) {
      if (this.lens[i] == n && memory.compare(this.ids[i], p, <usize>n) == 0) return i;
    }
    return -1;
  }

  // ,"adapters":[…] (nothing when none is held): ids are [A-Za-z0-9_.-], no escaping needed.
  writeJson(w: Writer): void {
    if (this.count == 0) return;
    w.ascii(",\"adapters\":[");
    for (let i = 0; i < this.count; i++) {
      if (i > 0) w.byte(0x2c);
      w.byte(0x22).bytes(this.ids[i], this.lens[i]).byte(0x22);
    }
    w.byte(0x5d);
  }
}
