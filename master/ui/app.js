// The wasmesos web UI: hash routes over the state the master streams on /events.
//   #/overview  #/agents  #/frameworks  #/roles  #/tasks?framework=&state=&agent=&q=  #/task/ID
// Everything it loads is served by the master from the binary; it fetches nothing else.

import { esc, nowSeconds, webLink } from "./format.js";
import { Live } from "./live.js";
import * as pages from "./pages.js";
import { TaskPage, TasksPage } from "./tasks.js";

const view = document.getElementById("view");
const footer = document.getElementById("footer");
const services = document.getElementById("services");
let state = null;
let page = null;

/** A page that is re-rendered whole from the state. */
function simple(render) {
  return { update: (s, context) => { view.innerHTML = render(s, context); } };
}

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const [name, ...rest] = path.split("/");
  const params = new URLSearchParams(query);
  switch (name) {
    case "agents": return { name, make: () => simple(pages.agents) };
    case "frameworks": return { name, make: () => simple(pages.frameworks) };
    case "roles": return { name, make: () => simple(pages.roles) };
    case "tasks": return { name, make: () => new TasksPage(view, params) };
    case "task": return { name: "tasks", make: () => new TaskPage(view, decodeURIComponent(rest.join("/"))) };
    default: return { name: "overview", make: () => simple(pages.overview) };
  }
}

function context() {
  return { now: nowSeconds(), history: live.history };
}

function render() {
  if (!state || !page) return;
  try {
    page.update(state, context());
  } catch (err) {
    console.error(err);
    view.innerHTML = `<p class="notice">This page failed to render: ${esc(err.message)}</p>`;
  }
  renderServices(state);
  const m = state.master ?? {};
  footer.textContent = `master ${m.id ?? "?"} at ${m.address ?? "?"} · version ${m.version ?? "?"} · state #${state.generation ?? 0}`;
}

// The header links to the UI or API of each connected framework that names one in its
// `webui_url` (Marathon's REST API, for one), as Mesos's UI links frameworks.
let servicesHtml = "";
function renderServices(s) {
  const html = (s.frameworks ?? [])
    .filter((f) => f.connected && f.webui_url)
    .map((f) => webLink(f.webui_url, `${f.name} ↗`, "service"))
    .join("");
  if (html !== servicesHtml) {
    servicesHtml = html;
    services.innerHTML = html;
  }
}

function navigate() {
  page?.stop?.();
  const { name, make } = route();
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === name);
  }
  page = make();
  render();
}

const live = new Live(document.getElementById("live"), (next) => {
  state = next;
  render();
});

window.addEventListener("hashchange", navigate);
// Durations and "ago" columns move with the clock even when the cluster is quiet.
setInterval(render, 1000);
navigate();
live.connect();
