// The console shell: sign-in with a service key, navigation by URL hash, and
// one view module per area. Each view's render(main) returns an optional cleanup.

import { api, clearKey, getKey, setKey } from "./api.js";
import { errorBox, fill, h } from "./dom.js";
import * as collections from "./collections.js";
import * as tail from "./tail.js";
import * as explain from "./explain.js";
import * as connections from "./connections.js";
import * as rooms from "./rooms.js";
import * as keys from "./keys.js";
import * as metrics from "./metrics.js";

const VIEWS = [
  ["collections", "Collections", collections],
  ["tail", "Live tail", tail],
  ["explain", "Why not delivered", explain],
  ["connections", "Connections", connections],
  ["rooms", "Rooms", rooms],
  ["keys", "Keys", keys],
  ["metrics", "Metrics", metrics],
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signout = document.getElementById("signout");
let cleanup = null;

function signIn() {
  nav.replaceChildren();
  signout.hidden = true;
  const err = errorBox();
  const input = h("input", {
    type: "password",
    id: "key",
    autocomplete: "off",
    placeholder: "eddy_sk_…",
    required: true,
    "aria-describedby": "key-help",
  });
  const form = h(
    "form",
    { class: "signin" },
    h("h2", {}, "Sign in"),
    h("label", { for: "key" }, "Service key"),
    input,
    h("p", { id: "key-help", class: "muted" }, "Kept for this browser tab only (sessionStorage); sent as a header, never in a URL."),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    err,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setKey(input.value.trim());
    try {
      await api("GET", "/v1/collections");
      input.value = "";
      start();
    } catch (e) {
      clearKey();
      err.show(e.status === 403 ? { code: e.code, message: "this key is not a service key" } : e);
    }
  });
  fill(main, form);
  input.focus();
}

function route() {
  cleanup?.();
  cleanup = null;
  const name = location.hash.slice(1) || "collections";
  const view = VIEWS.find(([n]) => n === name.split("/")[0]) ?? VIEWS[0];
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.view === view[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  main.dataset.view = view[0];
  cleanup = view[2].render(main) ?? null;
  main.focus({ preventScroll: true });
}

function start() {
  fill(
    nav,
    VIEWS.map(([n, label]) => h("a", { href: `#${n}`, "data-view": n }, label)),
  );
  signout.hidden = false;
  metrics.startSampling();
  route();
}

signout.addEventListener("click", () => {
  cleanup?.();
  cleanup = null;
  metrics.stopSampling();
  clearKey();
  signIn();
});

window.addEventListener("hashchange", () => {
  if (getKey()) route();
});

// A key that stops working (revoked) sends the user back to sign-in.
window.addEventListener("unhandledrejection", (ev) => {
  if (ev.reason?.status === 401) {
    clearKey();
    signIn();
  }
});

if (getKey()) start();
else signIn();
