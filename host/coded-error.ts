// Base of every error a user can cause: a stable code for programs plus a one-line message
// for people. The CLI prints these as "edgellm: <message>"; anything else is a bug.
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  constructor(code: C, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
