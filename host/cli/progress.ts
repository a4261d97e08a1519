// Progress with ETA on stderr. On a terminal: a live bar. Piped into a log: a plain line at
// most every PIPED_INTERVAL_MS, so a long job still reports and a short one stays silent.
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  tty?: boolean;                 // default: whether stderr is a terminal
  piped?: boolean;               // lines when not a terminal (default true; off where the caller logs itself)
  now?: () => number;            // ms clock, injectable for tests
  write?: (line: string) => void;
}

export const PIPED_INTERVAL_MS = 10_000;

export function startProgress(label: string, total: number, extraFormat = "", o: ProgressOptions = {}): Progress {
  if (total <= 0) return { update() {}, stop() {} };
  if (!(o.tty ?? process.stderr.isTTY)) return o.piped === false ? { update() {}, stop() {} } : pipedProgress(label, total, o);
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% {value}/{total} ETA {eta_formatted}${extraFormat}`,
    etaBuffer: 50,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return {
    update: (done, extra) => bar.update(done, extra),
    stop: () => bar.stop(),
  };
}

// "label: 40% (400/1000), ETA 15 s", the ETA from the average rate since the start.
function pipedProgress(label: string, total: number, o: ProgressOptions): Progress {
  const now = o.now ?? (() => performance.now());
  const write = o.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const start = now();
  let last = start;
  return {
    update(done) {
      const t = now();
      if (t - last < PIPED_INTERVAL_MS || done <= 0) return;
      last = t;
      const eta = ((t - start) / done) * Math.max(0, total - done) / 1000;
      write(`${label}: ${Math.floor((100 * done) / total)}% (${done}/${total}), ETA ${Math.round(eta)} s`);
    },
    stop() {},
  };
}
