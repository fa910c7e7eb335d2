// Environment glue: picking a WebSocket implementation and browser connectivity events.

import { EddyError } from "./errors.js";
import type { WebSocketConstructor } from "./types.js";

let wsModule: Promise<WebSocketConstructor> | undefined;

/** The WebSocket to use: the option, the global one, or the optional `ws` package (Node 20). */
export function resolveWebSocket(option?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (option) return Promise.resolve(option);
  const g = (globalThis as any).WebSocket;
  if (typeof g === "function") return Promise.resolve(g as WebSocketConstructor);
  if (!wsModule) {
    const name = "ws"; // a variable, so browser bundlers do not try to include it
    wsModule = import(/* @vite-ignore */ /* webpackIgnore: true */ name).then(
      (m: any) => (m.WebSocket ?? m.default) as WebSocketConstructor,
      (cause: unknown) => {
        wsModule = undefined;
        throw new EddyError(
          "no_websocket",
          "no WebSocket implementation: install the 'ws' package or pass options.WebSocket",
          { cause },
        );
      },
    );
  }
  return wsModule;
}

/**
 * In a browser: calls `wake` when the network comes back or the page becomes visible (timers may
 * have been throttled meanwhile) and `probe` when the browser reports going offline. Returns a
 * function that removes the listeners; does nothing elsewhere.
 */
export function listenToBrowser(handlers: { wake(): void; probe(): void }): (() => void) | undefined {
  const g = globalThis as any;
  if (typeof g.addEventListener !== "function" || typeof g.document?.addEventListener !== "function") return undefined;
  const onVisibility = () => {
    if (g.document.visibilityState === "visible") handlers.wake();
  };
  const onOnline = () => handlers.wake();
  const onOffline = () => handlers.probe();
  g.addEventListener("online", onOnline);
  g.addEventListener("offline", onOffline);
  g.document.addEventListener("visibilitychange", onVisibility);
  return () => {
    g.removeEventListener("online", onOnline);
    g.removeEventListener("offline", onOffline);
    g.document.removeEventListener("visibilitychange", onVisibility);
  };
}
