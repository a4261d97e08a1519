// One-line logs: "<time> <level> <component>: <text>" to stderr, filtered by level.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(component: string): Logger;
}

export function makeLogger(component: string, level: LogLevel = "info", sink: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  const emit = (lv: LogLevel, msg: string) => {
    if (ORDER[lv] >= ORDER[level]) sink(`${new Date().toISOString()} ${lv} ${component}: ${msg}`);
  };
  return {
    debug: (m) => emit("debug", m), info: (m) => emit("info", m), warn: (m) => emit("warn", m), error: (m) => emit("error", m),
    child: (c) => makeLogger(`${component}/${c}`, level, sink),
  };
}

export const silentLogger: Logger = makeLogger("", "silent");
