// Rooms on this server: member counts, members with presence, server broadcast.

import { api, seg } from "./api.js";
import { errorBox, field, fill, h, json, table } from "./dom.js";

export function render(main) {
  const err = errorBox();
  const list = h("div");
  const members = h("div");
  const [roomLabel, room] = field("Room", { name: "room", required: true });
  const [eventLabel, event] = field("Event", { name: "event", required: true, value: "console:notice" });
  const [msgLabel, message] = field("Message (JSON)", { name: "message", value: "{}", spellcheck: "false" }, "grow");
  const sent = h("span", { role: "status" });
  const form = h("form", { class: "row", "aria-label": "Broadcast to a room" }, roomLabel, eventLabel, msgLabel, h("button", { type: "submit", class: "primary" }, "Broadcast"), sent);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.show(null);
    try {
      const m = JSON.parse(message.value || "null");
      const r = await api("POST", `/v1/rooms/${seg(room.value.trim())}/broadcast`, { event: event.value.trim(), message: m });
      fill(sent, `Delivered to ${r.delivered} socket(s).`);
    } catch (e) {
      err.show(e instanceof SyntaxError ? { code: "invalid_request", message: `message is not JSON: ${e.message}` } : e);
    }
  });
  const showMembers = async (name) => {
    room.value = name;
    try {
      const r = await api("GET", `/v1/rooms/${seg(name)}/members`);
      fill(
        members,
        h("h3", {}, "Members of ", h("code", {}, name)),
        table(
          [
            { label: "connection", cell: (m) => m.connection ?? "" },
            { label: "sub", cell: (m) => m.sub ?? "" },
            { label: "presence", cls: "json", cell: (m) => json(m.state) },
          ],
          r.members,
        ),
      );
    } catch (e) {
      err.show(e);
    }
  };
  const load = async () => {
    try {
      const r = await api("GET", "/v1/rooms");
      fill(
        list,
        table(
          [
            { label: "room", cell: (r) => h("button", { type: "button", onclick: () => showMembers(r.room) }, r.room) },
            { label: "members", cell: (r) => String(r.members) },
          ],
          r.rooms,
          "No rooms with members on this server.",
        ),
      );
    } catch (e) {
      err.show(e);
    }
  };
  fill(main, h("h2", {}, "Rooms"), h("div", { class: "row" }, h("button", { type: "button", onclick: load }, "Refresh")), err, list, members, h("h3", {}, "Server broadcast"), form);
  load();
}
