// Build-time features. The federated trainer (fed-client.ts) is compiled only into the module
// built with `asc --use EDGELLM_FED=1` (build/edgellm-fed.wasm): its ~9 KB of static data
// (reasons, log lines) would otherwise sit in every device's linear memory, and a 144 KiB
// commands peer has ~200 bytes to spare. Code under `if (FEDERATED)` is dropped when it is off.
// @ts-ignore: EDGELLM_FED is defined by asc --use, not declared anywhere
export const FEDERATED: bool = isDefined(EDGELLM_FED);
