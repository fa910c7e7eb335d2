// Why not delivered: asks POST /v1/explain, which runs the hub's own matcher
// and read-rule code on a stored change, and shows the reasons.

import { api } from "./api.js";
import { errorBox, field, fill, h, table } from "./dom.js";
import { identityFields } from "./tail.js";

export function render(main) {
  const err = errorBox();
  const [collLabel, coll] = field("Collection", { name: "collection", required: true });
  const [idLabel, id] = field("Document id", { name: "id", required: true, size: 36 }, "grow");
  const [filterLabel, filters] = field("Filter (JSON form)", { name: "filters", value: "{}", spellcheck: "false" }, "grow");
  const [seqLabel, seq] = field("Seq", { name: "seq", type: "number", min: 1, placeholder: "latest" });
  const who = identityFields();
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "row" },
    collLabel,
    idLabel,
    filterLabel,
    who.nodes,
    seqLabel,
    h("button", { type: "submit", class: "primary" }, "Explain"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.show(null);
    fill(out);
    let f;
    try {
      f = JSON.parse(filters.value || "{}");
    } catch (e) {
      err.show({ code: "invalid_filter", message: `filter is not JSON: ${e.message}` });
      return;
    }
    const body = { collection: coll.value.trim(), id: id.value.trim(), filters: f, identity: who.value() };
    if (seq.value !== "") body.seq = Number(seq.value);
    try {
      show(out, await api("POST", "/v1/explain", body));
    } catch (e) {
      err.show(e);
    }
  });
  fill(main, h("h2", {}, "Why not delivered"), form, err, out);
}

function show(out, r) {
  const side = (name, s) =>
    s && {
      name,
      read: s.read ? "allowed" : "refused",
      filter: s.filter ? "matches" : "no match",
      conds: s.conditions.map((c) => `${c.key}: ${c.matches ? "✓" : "✗"}`).join("  "),
    };
  fill(
    out,
    h(
      "p",
      { class: r.delivered ? "ok" : "error", id: "verdict" },
      r.delivered ? `Delivered as ${r.event}` : "Not delivered",
      r.seq !== undefined ? ` (change ${r.seq}${r.op ? `, ${r.op}` : ""})` : "",
    ),
    r.reasons?.length > 0 &&
      h(
        "ul",
        { class: "reasons" },
        r.reasons.map((x) => h("li", {}, h("code", {}, x.code), " ", x.message)),
      ),
    r.checks &&
      h(
        "div",
        {},
        h("p", {}, `Read rule: ${r.read_rule} · may subscribe: ${r.checks.subscribe ? "yes" : "no"}`),
        table(
          [
            { label: "state", cell: (s) => s.name },
            { label: "read rule", cell: (s) => s.read },
            { label: "filter", cell: (s) => s.filter },
            { label: "conditions", cell: (s) => s.conds },
          ],
          [side("old", r.checks.old), side("new", r.checks.new)].filter(Boolean),
        ),
      ),
  );
}
