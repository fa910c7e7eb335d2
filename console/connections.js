// Connections on this server: counts, a table, disconnect (close code 4002).

import { api, seg } from "./api.js";
import { errorBox, fill, h, table, time } from "./dom.js";

const who = (i) => (i.kind === "user" ? `user ${i.sub}${i.role ? ` (${i.role})` : ""}` : i.kind);

export function render(main) {
  const err = errorBox();
  const body = h("div");
  const load = async () => {
    try {
      const r = await api("GET", "/v1/connections");
      err.show(null);
      const counts = [["total", r.total], ...Object.entries(r.by_transport), ...Object.entries(r.by_identity)];
      fill(
        body,
        h("div", { class: "cards" }, counts.map(([k, v]) => h("div", { class: "card" }, h("b", {}, String(v)), k))),
        table(
          [
            { label: "identity", cell: (c) => who(c.identity) + (c.impersonated ? " (console)" : "") },
            { label: "transport", cell: (c) => c.transport },
            { label: "remote", cell: (c) => c.remote ?? "" },
            { label: "since", cell: (c) => time(c.connected_at) },
            {
              label: "subscriptions",
              cell: (c) =>
                c.subscriptions.map((s) =>
                  h("div", {}, h("code", {}, s.collection), " ", JSON.stringify(s.filters ?? {}), ` · seq ${s.last_seq}`),
                ),
            },
            { label: "rooms", cell: (c) => c.rooms.join(", ") },
            { label: "queue", cell: (c) => `${c.queue}/${c.queue_max}` },
            {
              label: "",
              cell: (c) =>
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    "aria-label": `Disconnect ${c.id}`,
                    onclick: async () => {
                      try {
                        await api("DELETE", `/v1/connections/${seg(c.id)}`);
                      } catch (e) {
                        err.show(e);
                      }
                      load();
                    },
                  },
                  "Disconnect",
                ),
            },
          ],
          r.connections,
          "No connections.",
        ),
      );
    } catch (e) {
      err.show(e);
    }
  };
  fill(
    main,
    h("h2", {}, "Connections"),
    h("div", { class: "row" }, h("button", { type: "button", onclick: load }, "Refresh"), h("span", { class: "muted" }, "Refreshes every 3 s.")),
    err,
    body,
  );
  load();
  const timer = setInterval(load, 3000);
  return () => clearInterval(timer);
}
