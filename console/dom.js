// DOM helpers. Data only ever becomes text nodes or attribute values, never
// markup, so user-controlled strings cannot inject HTML or script.

/** Builds an element: attrs (on* keys become listeners), children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Pretty JSON as text. */
export const json = (v) => JSON.stringify(v, null, 2);

/** A table in a horizontally scrolling box: columns [{label, cell(row) -> node|string, cls}]. */
export function table(columns, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.cls }, c.cell(r)))))),
    ),
  );
}

/** A labelled input. */
export function field(label, attrs = {}, cls) {
  const input = h(attrs.tag ?? "input", { ...attrs, tag: undefined });
  return [h("label", { class: cls }, label, input), input];
}

/** An inline error area (role=alert so screen readers announce it). */
export function errorBox() {
  const el = h("div", { class: "error", role: "alert" });
  el.show = (e) => fill(el, e ? (e.code ? `${e.code}: ${e.message}` : String(e.message ?? e)) : "");
  return el;
}

/** Local time of an RFC 3339 string. */
export const time = (s) => (s ? new Date(s).toLocaleString() : "");
