// API keys: list, create (the secret is shown once, with a copy button), revoke.

import { api, seg } from "./api.js";
import { errorBox, field, fill, h, table, time } from "./dom.js";

export function render(main) {
  const err = errorBox();
  const list = h("div");
  const secret = h("div", { "aria-live": "polite" });
  const [nameLabel, name] = field("Name", { name: "name", maxlength: 128 });
  const kind = h("select", { name: "kind" }, h("option", { value: "public" }, "public"), h("option", { value: "service" }, "service"));
  const form = h("form", { class: "row", "aria-label": "Create a key" }, nameLabel, h("label", {}, "Kind", kind), h("button", { type: "submit", class: "primary" }, "Create key"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.show(null);
    try {
      const k = await api("POST", "/v1/keys", { name: name.value.trim(), kind: kind.value });
      const out = h("input", { class: "secret", readonly: true, value: k.key, "aria-label": "New key secret" });
      const copied = h("span", { role: "status" });
      fill(
        secret,
        h("p", {}, "Copy the key now: it is not shown again."),
        h("div", { class: "row" }, out, h("button", { type: "button", onclick: async () => {
          try {
            await navigator.clipboard.writeText(k.key);
            fill(copied, "Copied.");
          } catch {
            out.select();
            fill(copied, "Select and copy it (clipboard not available).");
          }
        } }, "Copy"), copied),
      );
      out.select();
      load();
    } catch (e) {
      err.show(e);
    }
  });
  const load = async () => {
    try {
      const { keys } = await api("GET", "/v1/keys");
      fill(
        list,
        table(
          [
            { label: "name", cell: (k) => k.name },
            { label: "kind", cell: (k) => k.kind },
            { label: "prefix", cell: (k) => h("code", {}, k.prefix + "…") },
            { label: "created", cell: (k) => time(k.created_at) },
            { label: "status", cell: (k) => (k.revoked_at ? `revoked ${time(k.revoked_at)}` : "active") },
            {
              label: "",
              cell: (k) =>
                !k.revoked_at &&
                h("button", { type: "button", class: "danger", "aria-label": `Revoke ${k.name || k.prefix}`, onclick: async () => {
                  if (!confirm(`Revoke ${k.name || k.prefix}? Connections using it are closed.`)) return;
                  try {
                    await api("DELETE", `/v1/keys/${seg(k.id)}`);
                  } catch (e) {
                    err.show(e);
                  }
                  load();
                } }, "Revoke"),
            },
          ],
          keys,
          "No stored keys (bootstrap keys from the environment are not listed).",
        ),
      );
    } catch (e) {
      err.show(e);
    }
  };
  fill(main, h("h2", {}, "Keys"), form, secret, err, list);
  load();
}
