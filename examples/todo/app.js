// A live todo list and a chat room on one page, built on the Eddy SDK.
//
// Query parameters: url (Eddy server, default this page's origin), key (API key), token (JWT),
// name (display name in the chat), room (chat room, default chat-demo), collection (default todos).

import { createClient } from "../../sdk-js/dist/index.js";

const params = new URLSearchParams(location.search);
const name = params.get("name") || `guest-${Math.random().toString(36).slice(2, 6)}`;
const roomName = params.get("room") || "chat-demo";
const client = createClient(params.get("url") || location.origin, {
  apiKey: params.get("key") || undefined,
  token: params.get("token") || undefined,
});
window.eddy = client; // handy in the devtools console

const $ = (id) => document.getElementById(id);

function showError(err) {
  $("error").hidden = false;
  $("error").textContent = `${err.code ?? "error"}: ${err.message}`;
}

function setStatus(s) {
  $("status").textContent = s;
  $("status").className = `status ${s}`;
}
client.on("status", setStatus);
client.on("error", showError);

// ---- todos: a live query renders the list; the forms write over REST ----

const todos = client.collection(params.get("collection") || "todos");

function renderTodos(docs) {
  const list = $("todos");
  const byId = new Map([...list.children].map((li) => [li.dataset.id, li]));
  docs.forEach((doc, i) => {
    let li = byId.get(doc.id);
    if (!li) li = todoItem(doc.id);
    byId.delete(doc.id);
    li.classList.toggle("done", doc.data.done === true);
    li.querySelector(".done-box").checked = doc.data.done === true;
    const title = li.querySelector(".title");
    if (document.activeElement !== title) title.value = doc.data.title ?? "";
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  for (const stale of byId.values()) stale.remove();
  $("todo-count").textContent = String(docs.length);
}

function todoItem(id) {
  const li = document.createElement("li");
  li.dataset.id = id;
  li.dataset.testid = "todo";
  li.innerHTML = `
    <input type="checkbox" class="done-box" data-testid="todo-done" aria-label="done" />
    <input class="title" data-testid="todo-title" aria-label="title" />
    <button type="button" data-testid="todo-delete" aria-label="delete">✕</button>`;
  li.querySelector(".done-box").addEventListener("change", (e) => {
    todos.update(id, { done: e.target.checked }).catch(showError);
  });
  li.querySelector(".title").addEventListener("change", (e) => {
    todos.update(id, { title: e.target.value }).catch(showError);
  });
  li.querySelector("button").addEventListener("click", () => {
    todos.delete(id).catch(showError);
  });
  return li;
}

todos.live({ sort: "$created_at", onError: showError }, (docs) => renderTodos(docs));

$("todo-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("todo-input");
  const title = input.value.trim();
  if (!title) return;
  input.value = "";
  todos.create({ title, done: false }).catch(showError);
});

// ---- chat: a room with presence and broadcasts ----

const room = client.room(roomName);
$("room-name").textContent = roomName;

function renderMembers(members) {
  const el = $("members");
  el.replaceChildren(
    ...members.map((m) => {
      const span = document.createElement("span");
      span.textContent = m.state.name ?? m.sub ?? m.connection;
      return span;
    }),
  );
}

function addMessage(who, text) {
  const li = document.createElement("li");
  li.dataset.testid = "message";
  const b = document.createElement("span");
  b.className = "who";
  b.textContent = who;
  li.append(b, document.createTextNode(text));
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
}

room.onPresence((members) => renderMembers(members));
room.on("chat:message", (msg) => addMessage(msg.name, msg.text));
room.join({ presence: { name } }).then(renderMembers, showError);

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  room.broadcast("chat:message", { name, text }).then(() => addMessage(name, text), showError);
});
