import { CodedError } from "../coded-error.js";

// Errors about model, tokenizer and adapter files: a code for programs, a message naming the file.
export type FormatErrorCode =
  | "E_FILE_MISSING" | "E_FILE_EMPTY" | "E_TOO_SHORT" | "E_MAGIC" | "E_VERSION" | "E_TRUNCATED"
  | "E_CHECKSUM" | "E_CONFIG" | "E_TENSOR" | "E_QTYPE" | "E_TOKENIZER" | "E_QUANT" | "E_ADAPTER_BASE";

export class FormatError extends CodedError<FormatErrorCode> {}
