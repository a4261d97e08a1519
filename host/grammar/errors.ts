import { CodedError } from "../coded-error.js";

export type GrammarCode = "E_GRAMMAR_SYNTAX" | "E_GRAMMAR_UNDEFINED" | "E_GRAMMAR_RECURSION" | "E_GRAMMAR_EMPTY";

// A grammar that does not compile: the message names the file position and the problem.
export class GrammarError extends CodedError<GrammarCode> {}
