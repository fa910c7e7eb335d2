// Live tail: a realtime subscription (the same protocol as any client),
// optionally acting as another identity, showing events as they commit.

import { realtime } from "./api.js";
import { errorBox, field, fill, h, json } from "./dom.js";

const MAX_EVENTS = 500; // the list is bounded: the oldest entries drop off

/** Identity fields shared with the explain view. */
export function identityFields() {
  const kind = h(
    "select",
    { name: "kind" },
    h("option", { value: "service" }, "service (no rules)"),
    h("option", { value: "public" }, "public"),
    h("option", { value: "user" }, "user"),
  );
  const [subLabel, sub] = field("User sub", { name: "sub", placeholder: "alice" });
  const [roleLabel, role] = field("Role", { name: "role", placeholder: "optional" });
  const sync = () => {
    sub.disabled = role.disabled = kind.value !== "user";
  };
  kind.addEventListener("change", sync);
  sync();
  const value = () =>
    kind.value === "user"
      ? { kind: "user", sub: sub.value.trim(), ...(role.value.trim() ? { role: role.value.trim() } : {}) }
      : { kind: kind.value };
  return { nodes: [h("label", {}, "Identity", kind), subLabel, roleLabel], value };
}

function changedKeys(data, old) {
  if (!data || !old) return new Set();
  const keys = new Set([...Object.keys(data), ...Object.keys(old)]);
  return new Set([...keys].filter((k) => JSON.stringify(data[k]) !== JSON.stringify(old[k])));
}

/** Data as one line per top-level key, changed keys marked. */
function dataView(data, changed) {
  if (data === null || data === undefined) return h("pre", { class: "muted" }, "null");
  return h(
    "pre",
    {},
    "{\n",
    Object.entries(data).map(([k, v]) =>
      h("span", { class: changed.has(k) ? "changed" : undefined }, `  ${JSON.stringify(k)}: ${JSON.stringify(v)}\n`),
    ),
    "}",
  );
}

export function render(main) {
  const err = errorBox();
  const [collLabel, coll] = field("Collection", { name: "collection", required: true });
  const [filterLabel, filters] = field("Filter (JSON form)", { name: "filters", value: "{}", spellcheck: "false" }, "grow");
  const [sinceLabel, since] = field("Resume after seq", { name: "since", type: "number", min: 0, placeholder: "now" });
  const who = identityFields();
  const status = h("span", { class: "muted", role: "status" }, "Stopped.");
  const list = h("ol", { class: "events", reversed: true, "aria-label": "Events, newest first" });
  let ws = null;
  let lastSeq = null;

  const stop = () => {
    ws?.close(1000);
    ws = null;
  };

  const startTail = () => {
    err.show(null);
    let f;
    try {
      f = JSON.parse(filters.value || "{}");
    } catch (e) {
      err.show({ code: "invalid_filter", message: `filter is not JSON: ${e.message}` });
      return;
    }
    stop();
    const as = who.value();
    const sub = { type: "subscribe", id: "tail", collection: coll.value.trim(), filters: f, ref: "sub" };
    if (since.value !== "") sub.since = Number(since.value);
    fill(status, "Connecting…");
    const socket = realtime({
      as: as.kind === "service" ? undefined : as,
      onMessage: (m) => {
        if (m.type === "auth_ok") socket.send(JSON.stringify(sub));
        else if (m.type === "subscribed") fill(status, `Live on ${m.collection} from seq ${m.seq}.`);
        else if (m.type === "event") addEvent(m);
        else if (m.type === "error") {
          err.show(m);
          fill(status, "Stopped.");
        }
      },
      onClose: (ev) => {
        if (ws === socket) {
          ws = null;
          fill(status, `Stopped (connection closed, code ${ev.code}).`);
        }
      },
    });
    ws = socket;
  };

  const addEvent = (m) => {
    lastSeq = m.seq;
    since.placeholder = String(lastSeq);
    const old = m.old ?? null;
    const data = m.document?.data ?? null;
    const changed = changedKeys(data, old);
    const li = h(
      "li",
      { "data-seq": m.seq },
      h(
        "div",
        { class: "meta" },
        h("span", { class: "tag" }, m.event),
        h("span", {}, `seq ${m.seq}`),
        m.transition && h("span", { class: "tag" }, m.transition),
        h("code", {}, m.document?.id ?? ""),
        h("span", { class: "muted" }, `v${m.document?.version} · owner ${m.document?.owner ?? "none"}`),
        changed.size > 0 && h("span", {}, "changed: ", h("span", { class: "changed" }, [...changed].join(", "))),
      ),
      h("div", {}, h("span", { class: "muted" }, "document"), dataView(data, changed)),
      old && h("details", {}, h("summary", {}, "old data"), h("pre", {}, json(old))),
    );
    list.prepend(li);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  };

  const form = h(
    "form",
    { class: "row" },
    collLabel,
    filterLabel,
    who.nodes,
    sinceLabel,
    h("button", { type: "submit", class: "primary" }, "Start"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    startTail();
  });
  const pause = () => {
    stop();
    fill(status, lastSeq === null ? "Paused." : `Paused after seq ${lastSeq}. Resume continues from there.`);
  };
  const resume = () => {
    if (since.value === "" && lastSeq !== null) since.value = String(lastSeq);
    startTail();
  };
  fill(
    main,
    h("h2", {}, "Live tail"),
    form,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: pause }, "Pause"),
      h("button", { type: "button", onclick: resume }, "Resume"),
      h("button", { type: "button", onclick: () => list.replaceChildren() }, "Clear"),
      status,
    ),
    err,
    list,
  );
  return stop;
}
