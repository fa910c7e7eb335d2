// Collections: list with counts and rules, create, edit rules; browse documents
// with the filter language, sort and keyset paging; view, create, edit, delete.

import { api, seg } from "./api.js";
import { errorBox, field, fill, h, json, table, time } from "./dom.js";

const OPS = ["read", "create", "update", "delete"];
const RULES = ["public", "authenticated", "owner", "service"];

function ruleInputs(rules = {}) {
  const list = h("datalist", { id: "rule-values" }, RULES.map((r) => h("option", { value: r })));
  const inputs = {};
  const labels = OPS.map((op) => {
    const [label, input] = field(op, { name: op, list: "rule-values", value: rules[op] ?? "", placeholder: "default" });
    inputs[op] = input;
    return label;
  });
  const values = () => Object.fromEntries(OPS.filter((op) => inputs[op].value.trim()).map((op) => [op, inputs[op].value.trim()]));
  return { nodes: [list, ...labels], values };
}

export function render(main) {
  showList(main);
}

async function showList(main) {
  const err = errorBox();
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const [nameLabel, name] = field("Name", { name: "name", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}" });
  const rules = ruleInputs();
  const createErr = errorBox();
  const create = h(
    "form",
    { class: "row", "aria-label": "Create a collection" },
    nameLabel,
    rules.nodes,
    h("button", { type: "submit", class: "primary" }, "Create collection"),
  );
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    createErr.show(null);
    try {
      await api("PUT", `/v1/collections/${seg(name.value.trim())}`, { rules: rules.values() });
      showList(main);
    } catch (e) {
      createErr.show(e);
    }
  });
  fill(main, h("h2", {}, "Collections"), err, body, h("h3", {}, "New collection"), create, createErr);
  try {
    const { collections } = await api("GET", "/v1/collections");
    fill(
      body,
      table(
        [
          { label: "Name", cell: (c) => h("button", { type: "button", onclick: () => browse(main, c.name) }, c.name) },
          { label: "Documents", cell: (c) => String(c.documents) },
          ...OPS.map((op) => ({ label: op, cell: (c) => c.rules[op] })),
          { label: "", cell: (c) => h("button", { type: "button", onclick: () => editRules(main, c) }, "Edit rules") },
        ],
        collections,
        "No collections yet.",
      ),
    );
  } catch (e) {
    fill(body);
    err.show(e);
  }
}

function editRules(main, c) {
  const rules = ruleInputs(c.rules);
  const err = errorBox();
  const form = h(
    "form",
    { class: "row" },
    rules.nodes,
    h("button", { type: "submit", class: "primary" }, "Save rules"),
    h("button", { type: "button", onclick: () => showList(main) }, "Cancel"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", `/v1/collections/${seg(c.name)}`, { rules: rules.values() });
      showList(main);
    } catch (e) {
      err.show(e);
    }
  });
  fill(main, h("h2", {}, "Rules of ", h("code", {}, c.name)), form, err);
  form.querySelector("input")?.focus();
}

/** Parses the URL form typed in the search box (`a=1&b__gt=2`) into query pairs. */
function filterParams(text) {
  const params = new URLSearchParams();
  for (const part of text.split("&").map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    if (i < 0) params.append(part, "");
    else params.append(part.slice(0, i), part.slice(i + 1));
  }
  return params;
}

function browse(main, coll, state = { filter: "", sort: "", limit: 20, pages: [null] }) {
  const err = errorBox();
  const [filterLabel, filter] = field("Filter (e.g. status=open&views__gte=10)", { type: "search", name: "filter", value: state.filter }, "grow");
  const [sortLabel, sort] = field("Sort (e.g. -views)", { name: "sort", value: state.sort });
  const [limitLabel, limit] = field("Page size", { type: "number", min: 1, max: 1000, value: state.limit });
  const results = h("div");
  const pager = h("div", { class: "row" });
  const search = h("form", { class: "row", role: "search" }, filterLabel, sortLabel, limitLabel, h("button", { type: "submit", class: "primary" }, "Search"));
  const load = async () => {
    err.show(null);
    const params = filterParams(filter.value);
    if (sort.value.trim()) params.set("sort", sort.value.trim());
    params.set("limit", limit.value || "20");
    const after = state.pages[state.pages.length - 1];
    if (after) params.set("after", after);
    try {
      const page = await api("GET", `/v1/collections/${seg(coll)}/documents?${params}`);
      fill(
        results,
        table(
          [
            { label: "id", cell: (d) => h("button", { type: "button", onclick: () => editDoc(main, coll, d, state) }, d.id.slice(0, 8) + "…") },
            { label: "data", cls: "json", cell: (d) => JSON.stringify(d.data) },
            { label: "owner", cell: (d) => d.owner ?? "" },
            { label: "version", cell: (d) => String(d.version) },
            { label: "updated", cell: (d) => time(d.updated_at) },
          ],
          page.documents,
          "No matching documents.",
        ),
      );
      fill(
        pager,
        h("span", { class: "muted" }, `Page ${state.pages.length}`),
        state.pages.length > 1 &&
          h("button", { type: "button", onclick: () => { state.pages.pop(); load(); } }, "Previous page"),
        page.next && h("button", { type: "button", onclick: () => { state.pages.push(page.next); load(); } }, "Next page"),
      );
    } catch (e) {
      fill(results);
      fill(pager);
      err.show(e);
    }
  };
  search.addEventListener("submit", (ev) => {
    ev.preventDefault();
    Object.assign(state, { filter: filter.value, sort: sort.value, limit: limit.value, pages: [null] });
    load();
  });
  fill(
    main,
    h("h2", {}, "Documents in ", h("code", {}, coll)),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: () => showList(main) }, "← Collections"),
      h("button", { type: "button", class: "primary", onclick: () => editDoc(main, coll, null, state) }, "New document"),
    ),
    search,
    err,
    results,
    pager,
  );
  load();
}

function editDoc(main, coll, doc, back) {
  const err = errorBox();
  const valid = h("div", { class: "muted", "aria-live": "polite" });
  const editor = h("textarea", { "aria-label": "Document data (JSON object)", spellcheck: "false" });
  editor.value = json(doc ? doc.data : {});
  const check = () => {
    try {
      const v = JSON.parse(editor.value);
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("data must be a JSON object");
      fill(valid, h("span", { class: "ok" }, "Valid JSON object"));
      return v;
    } catch (e) {
      fill(valid, h("span", { class: "error" }, e.message));
      return undefined;
    }
  };
  editor.addEventListener("input", check);
  check();
  const save = async () => {
    const data = check();
    if (data === undefined) return;
    try {
      if (doc) {
        const updated = await api("PUT", `/v1/collections/${seg(coll)}/documents/${seg(doc.id)}`, { data }, { "if-match": String(doc.version) });
        editDoc(main, coll, updated, back);
      } else {
        const created = await api("POST", `/v1/collections/${seg(coll)}/documents`, { data });
        editDoc(main, coll, created, back);
      }
    } catch (e) {
      err.show(e);
    }
  };
  const remove = async () => {
    if (!confirm("Delete this document?")) return;
    try {
      await api("DELETE", `/v1/collections/${seg(coll)}/documents/${seg(doc.id)}`, undefined, { "if-match": String(doc.version) });
      browse(main, coll, back);
    } catch (e) {
      err.show(e);
    }
  };
  fill(
    main,
    h("h2", {}, doc ? "Document " : "New document in ", h("code", {}, doc ? doc.id : coll)),
    doc && h("p", { class: "muted" }, `version ${doc.version} · owner ${doc.owner ?? "none"} · created ${time(doc.created_at)} · updated ${time(doc.updated_at)}`),
    editor,
    valid,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "primary", onclick: save }, doc ? "Save" : "Create"),
      doc && h("button", { type: "button", class: "danger", onclick: remove }, "Delete"),
      h("button", { type: "button", onclick: () => browse(main, coll, back) }, "Back to documents"),
    ),
    err,
  );
  editor.focus();
}
