// Error codes returned by the module's exports (negative i32). The hosts map them to
// messages (host/engine/errors.ts, firmware/core/errors.c); append-only.
export const OK: i32 = 0;
export const E_TOO_SHORT: i32 = -1;       // file smaller than the header
export const E_MAGIC: i32 = -2;           // not an edgellm model file
export const E_VERSION: i32 = -3;         // unsupported format version
export const E_TRUNCATED: i32 = -4;       // file_bytes does not match the data given
export const E_CHECKSUM: i32 = -5;        // CRC-32 mismatch
export const E_CONFIG: i32 = -6;          // absurd or inconsistent dimensions
export const E_TENSOR: i32 = -7;          // tensor table entry out of bounds or wrong shape
export const E_MISSING_TENSOR: i32 = -8;  // a required tensor is absent
export const E_QTYPE: i32 = -9;           // unknown quantization type
export const E_TOKENIZER: i32 = -10;      // tokenizer blob malformed
export const E_NO_MODEL: i32 = -11;       // call needs a loaded model
export const E_ARGUMENT: i32 = -12;       // bad argument (token id, position, length)
export const E_NO_TOKENIZER: i32 = -13;   // call needs a tokenizer
export const E_OUT_OF_MEMORY: i32 = -14;  // linear memory could not grow
export const E_NAME: i32 = -15;           // fleet or peer name is not 1-64 of A-Z a-z 0-9 _ -
export const E_NO_AGENT: i32 = -16;       // call needs agentInit
export const E_REJECTED: i32 = -17;       // agentMessage refused the message (agentReason says why)
export const E_DUPLICATE_ID: i32 = -18;   // another process is online with this peer id (agentMessage)
export const E_ADAPTER_BASE: i32 = -19;   // adapter made for another base model (checksum or shape)
export const E_GRAMMAR: i32 = -20;          // compiled grammar malformed (magic, version, size, tables)
export const E_NO_GRAMMAR: i32 = -21;       // call needs grammarLoad
export const E_GRAMMAR_REFUSED: i32 = -22;  // grammarAdvance: the grammar does not allow that token
// Codes from -40 on (-23..-39 are left to other work in progress; append-only either way).
export const E_GRAMMAR_LIVE: i32 = -40;     // a grammar match would hold more positions at once than the matcher's cap
export const E_NO_TRAINER: i32 = -41;       // agentTrainer: this module was built without the federated trainer (use edgellm-fed.wasm)
