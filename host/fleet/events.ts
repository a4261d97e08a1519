// A typed EventEmitter: listeners and emit() are checked against one event map.
import { EventEmitter } from "node:events";

type Listener = (...args: unknown[]) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class TypedEmitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  private readonly ee = new EventEmitter();
  on<K extends keyof Events & string>(event: K, fn: Events[K]): this { this.ee.on(event, fn as unknown as Listener); return this; }
  once<K extends keyof Events & string>(event: K, fn: Events[K]): this { this.ee.once(event, fn as unknown as Listener); return this; }
  off<K extends keyof Events & string>(event: K, fn: Events[K]): this { this.ee.off(event, fn as unknown as Listener); return this; }
  protected emit<K extends keyof Events & string>(event: K, ...args: Parameters<Events[K]>): void { this.ee.emit(event, ...args); }
}
