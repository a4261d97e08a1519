// Progress with ETA on stderr (only when stderr is a terminal, so pipes and logs stay clean).
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export function startProgress(label: string, total: number, extraFormat = ""): Progress {
  if (!process.stderr.isTTY || total <= 0) return { update() {}, stop() {} };
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
