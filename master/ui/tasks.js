// The tasks list (filters kept in the URL: #/tasks?framework=&state=&agent=&q=) and one
// task's detail page with live tails of its stdout and stderr.

import {
  ago, duration, esc, resources, shortId, statePill,
} from "./format.js";
import { Tail } from "./logs.js";

function taskDuration(task, now) {
  const end = task.terminal ? task.updated_time : now;
  return duration(end - task.started_time);
}

function names(state) {
  return {
    frameworks: new Map((state.frameworks ?? []).map((f) => [f.id, f.name])),
    agents: new Map((state.agents ?? []).map((a) => [a.id, a.hostname])),
  };
}

function matches(task, filters, named) {
  if (filters.framework && task.framework_id !== filters.framework) return false;
  if (filters.state && task.state !== filters.state) return false;
  if (filters.agent && task.agent_id !== filters.agent) return false;
  if (!filters.q) return true;
  const needle = filters.q.toLowerCase();
  const haystack = [task.task_id, task.name, task.reason, task.message, named.frameworks.get(task.framework_id)];
  return haystack.some((field) => String(field ?? "").toLowerCase().includes(needle));
}

function options(all, pairs) {
  return `<option value="">${esc(all)}</option>`
    + pairs.map(([value, label]) => `<option value="${esc(value)}">${esc(label)}</option>`).join("");
}

export class TasksPage {
  constructor(view, params) {
    this.filters = {
      framework: params.get("framework") ?? "", state: params.get("state") ?? "",
      agent: params.get("agent") ?? "", q: params.get("q") ?? "",
    };
    this.optionKeys = {};
    view.innerHTML = `<h1>Tasks</h1>
      <div class="filters">
        <select id="filter-framework" aria-label="framework"></select>
        <select id="filter-state" aria-label="state"></select>
        <select id="filter-agent" aria-label="agent"></select>
        <input id="filter-q" type="search" placeholder="Search id, name, reason, message" aria-label="search">
        <span id="task-count" class="muted"></span>
      </div>
      <p id="task-notice" class="notice" hidden></p>
      <table><thead><tr><th>task</th><th>framework</th><th>agent</th><th>state</th><th>reason</th>
      <th class="num">duration</th><th>started</th><th>ports</th><th>resources</th></tr></thead><tbody id="task-rows"></tbody></table>`;
    this.view = view;
    this.$ = (id) => view.querySelector(`#${id}`);
    this.$("filter-q").value = this.filters.q;
    for (const key of ["framework", "state", "agent"]) {
      this.$(`filter-${key}`).addEventListener("change", (e) => this.set(key, e.target.value));
    }
    this.$("filter-q").addEventListener("input", (e) => this.set("q", e.target.value.trim()));
  }

  set(key, value) {
    this.filters[key] = value;
    const query = new URLSearchParams(Object.entries(this.filters).filter(([, v]) => v));
    const text = query.toString();
    history.replaceState(null, "", `#/tasks${text ? `?${text}` : ""}`);
    if (this.state) this.update(this.state, this.context);
  }

  /** Rebuilds a select's options only when they changed, so an open select stays open. */
  fill(key, all, pairs) {
    const select = this.$(`filter-${key}`);
    const signature = JSON.stringify(pairs);
    if (this.optionKeys[key] !== signature) {
      this.optionKeys[key] = signature;
      const current = this.filters[key];
      const known = pairs.some(([value]) => value === current);
      select.innerHTML = options(all, known || !current ? pairs : [...pairs, [current, current]]);
    }
    select.value = this.filters[key];
  }

  update(state, context) {
    this.state = state;
    this.context = context;
    const named = names(state);
    const tasks = state.tasks ?? [];
    this.fill("framework", "all frameworks", [...named.frameworks].map(([id, name]) => [id, `${name} (${id.slice(0, 8)})`]));
    this.fill("state", "all states", [...new Set(tasks.map((t) => t.state))].sort().map((s) => [s, s]));
    this.fill("agent", "all agents", [...named.agents].map(([id, host]) => [id, `${host} (${id.slice(0, 8)})`]));
    const shown = tasks.filter((t) => matches(t, this.filters, named))
      .sort((a, b) => b.started_time - a.started_time);
    this.$("task-count").textContent = `${shown.length} of ${tasks.length} tasks`;
    const notice = this.$("task-notice");
    const total = state.tasks_total ?? tasks.length;
    notice.hidden = total <= tasks.length;
    notice.textContent = `The live view holds the newest ${tasks.length} of ${total} tasks; /tasks pages through all of them.`;
    this.$("task-rows").innerHTML = shown.length ? shown.map((t) => row(t, named, context.now)).join("")
      : `<tr><td class="empty" colspan="9">No task matches.</td></tr>`;
  }
}

function row(t, named, now) {
  const href = `#/task/${encodeURIComponent(t.task_id)}`;
  return `<tr data-task-id="${esc(t.task_id)}" data-state="${esc(t.state)}">
    <td><a href="${href}"><b>${esc(t.task_id)}</b></a>${t.name && t.name !== t.task_id ? `<div class="muted">${esc(t.name)}</div>` : ""}</td>
    <td>${esc(named.frameworks.get(t.framework_id) ?? t.framework_id)}</td>
    <td>${esc(named.agents.get(t.agent_id) ?? t.agent_id)}</td>
    <td>${statePill(t.state)}</td><td>${esc(t.reason || "–")}</td>
    <td class="num">${esc(taskDuration(t, now))}</td><td>${ago(t.started_time, now)}</td>
    <td class="mono">${esc(t.resources?.ports ?? "–")}</td>
    <td>${esc(resources(t.resources))}</td></tr>`;
}

export class TaskPage {
  constructor(view, taskId) {
    this.taskId = taskId;
    view.innerHTML = `<h1>Task <span class="mono">${esc(taskId)}</span></h1>
      <section class="card" id="task-info"><p class="muted">Waiting for the master's state…</p></section>
      <div class="logs">${["stdout", "stderr"].map((file) => `<section class="card log">
        <h2>${file}<span class="status" id="${file}-status"></span></h2><pre id="${file}"></pre></section>`).join("")}</div>`;
    this.tails = ["stdout", "stderr"].map((file) =>
      new Tail(taskId, file, view.querySelector(`#${file}`), view.querySelector(`#${file}-status`)).start());
    this.info = view.querySelector("#task-info");
  }

  update(state, { now }) {
    const task = (state.tasks ?? []).find((t) => t.task_id === this.taskId);
    if (!task) {
      this.info.innerHTML = `<p class="muted">This task is not in the master's live state
        (unknown, or completed long enough ago to be pruned). Its files may still be readable below.</p>`;
      return;
    }
    const named = names(state);
    this.info.dataset.state = task.state;
    this.info.innerHTML = `<dl class="kv">
      <dt>state</dt><dd>${statePill(task.state)}</dd>
      <dt>reason</dt><dd>${esc(task.reason || "–")}</dd>
      <dt>message</dt><dd>${esc(task.message || "–")}</dd>
      <dt>exit code</dt><dd>${esc(task.exit_code ?? "–")}</dd>
      <dt>duration</dt><dd>${esc(taskDuration(task, now))}</dd>
      <dt>started</dt><dd>${ago(task.started_time, now)}</dd>
      <dt>last update</dt><dd>${ago(task.updated_time, now)}</dd>
      <dt>framework</dt><dd><a href="#/tasks?framework=${encodeURIComponent(task.framework_id)}">${esc(named.frameworks.get(task.framework_id) ?? "")}</a> ${shortId(task.framework_id)}</dd>
      <dt>agent</dt><dd><a href="#/tasks?agent=${encodeURIComponent(task.agent_id)}">${esc(named.agents.get(task.agent_id) ?? "")}</a> ${shortId(task.agent_id)}</dd>
      <dt>resources</dt><dd>${esc(resources(task.resources))}</dd>
      <dt>component</dt><dd class="mono">${esc(task.executor_digest)}</dd></dl>`;
  }

  stop() {
    for (const tail of this.tails) tail.stop();
  }
}
