// Typed errors of the privacy module: bad parameters a caller (or the CLI user) gave, and a
// numerical series that would not converge (a bug or parameters far outside any sane range).
import { CodedError } from "../coded-error.js";

export class PrivacyError extends CodedError<"E_PRIVACY" | "E_PRIVACY_NUMERIC" | "E_PRIVACY_STATE"> {}

export function checkSampleRate(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new PrivacyError("E_PRIVACY", `sample rate must be in [0, 1], got ${q}`);
}

export function checkNoise(z: number): void {
  if (!(z >= 0 && Number.isFinite(z))) throw new PrivacyError("E_PRIVACY", `noise multiplier must be a finite number ≥ 0, got ${z}`);
}

export function checkDelta(delta: number): void {
  if (!(delta > 0 && delta < 1)) throw new PrivacyError("E_PRIVACY", `delta must be in (0, 1), got ${delta}`);
}
