// A tiny typed event emitter; listener errors never break the SDK's own processing.

export type Listener<T> = (value: T) => void;

export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<Listener<any>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener);
  }

  count<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) safeCall(listener, value);
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** Calls an application callback; a throw is reported asynchronously instead of propagating. */
export function safeCall<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): void {
  try {
    fn(...args);
  } catch (err) {
    reportLater(err);
  }
}

function reportLater(err: unknown): void {
  // Surface the error like an uncaught exception would, without interrupting event delivery.
  setTimeout(() => {
    throw err;
  }, 0);
}
