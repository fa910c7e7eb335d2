// Exponential backoff with jitter.

import type { ReconnectOptions } from "./types.js";

export interface BackoffSettings {
  initialDelay: number;
  maxDelay: number;
  factor: number;
  jitter: number;
}

export function backoffSettings(opts: ReconnectOptions = {}): BackoffSettings {
  const s: BackoffSettings = {
    initialDelay: opts.initialDelay ?? 500,
    maxDelay: opts.maxDelay ?? 30_000,
    factor: opts.factor ?? 2,
    jitter: opts.jitter ?? 0.5,
  };
  if (!(s.initialDelay >= 0) || !(s.maxDelay >= s.initialDelay) || !(s.factor >= 1)) {
    throw new RangeError("invalid reconnect options: need 0 <= initialDelay <= maxDelay and factor >= 1");
  }
  s.jitter = Math.min(1, Math.max(0, s.jitter));
  return s;
}

/**
 * Delay before retry number `attempt` (0-based): the nominal delay `initialDelay * factor^attempt`
 * capped at `maxDelay`, minus a random share of up to `jitter` of it.
 */
export function backoffDelay(s: BackoffSettings, attempt: number, random: () => number = Math.random): number {
  const nominal = Math.min(s.maxDelay, s.initialDelay * Math.pow(s.factor, Math.max(0, attempt)));
  return Math.round(nominal * (1 - s.jitter * random()));
}
