// The read-only pages: overview, agents, frameworks, roles. Each is a function from the
// master's state to HTML; the router re-renders it whenever a new state arrives.

import { historyChart, shareBar, stackedBar, usageBar } from "./charts.js";
import {
  ago, amount, duration, esc, percent, rangeCount, resourceLabel, resources, share, shortId, webLink,
  yesNo,
} from "./format.js";
import { HISTORY_SECONDS } from "./live.js";

const MAIN_RESOURCES = ["cpus", "mem_bytes", "disk_bytes"];

function table(headers, rows, empty) {
  const head = headers.map((h) => (h.startsWith(">") ? `<th class="num">${esc(h.slice(1))}</th>` : `<th>${esc(h)}</th>`)).join("");
  const body = rows.length ? rows.join("") : `<tr><td class="empty" colspan="${headers.length}">${esc(empty)}</td></tr>`;
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function stat(label, value) {
  return `<div class="card stat"><div class="value">${value}</div><div class="label">${esc(label)}</div></div>`;
}

function resourceCard(name, r, history, now) {
  const total = r.total?.[name] ?? 0;
  const used = r.used?.[name] ?? 0;
  const offered = r.offered?.[name] ?? 0;
  const free = Math.max(0, total - used - offered);
  return `<section class="card" data-resource="${esc(name)}">
    <h2>${esc(resourceLabel(name))}</h2>
    <dl class="kv">
      <dt>total</dt><dd>${esc(amount(name, total))}</dd>
      <dt>used</dt><dd>${esc(amount(name, used))} <span class="muted">(${esc(percent(total ? used / total : 0))})</span></dd>
      <dt>offered</dt><dd>${esc(amount(name, offered))} <span class="muted">(${esc(percent(total ? offered / total : 0))})</span></dd>
      <dt>free</dt><dd>${esc(amount(name, free))}</dd>
    </dl>
    ${stackedBar(resourceLabel(name), used, offered, total)}
    ${historyChart(name, history, now, HISTORY_SECONDS)}
    <div class="legend"><span><i class="swatch used"></i>used</span><span><i class="swatch offered"></i>offered</span><span><i class="swatch free"></i>free</span></div>
  </section>`;
}

export function overview(state, { history, now }) {
  const r = state.resources ?? {};
  const tasks = state.tasks ?? [];
  const agents = state.agents ?? [];
  const running = tasks.filter((t) => !t.terminal).length;
  const failed = tasks.filter((t) => ["FAILED", "ERROR", "LOST"].includes(t.state)).length;
  const extra = Object.keys(r.total ?? {}).filter((k) => !MAIN_RESOURCES.includes(k) && typeof r.total[k] === "number");
  return `<h1>Cluster overview</h1>
    <div class="stats">
      ${stat("active agents", `${agents.filter((a) => a.active).length} / ${agents.length}`)}
      ${stat("frameworks", `${(state.frameworks ?? []).filter((f) => f.connected).length} / ${(state.frameworks ?? []).length}`)}
      ${stat("active tasks", String(running))}
      ${stat("failed or lost", String(failed))}
      ${stat("components", String(state.artifacts ?? 0))}
    </div>
    <div class="cards">${[...MAIN_RESOURCES, ...extra].map((n) => resourceCard(n, r, history, now)).join("")}</div>`;
}

function resourceCell(agent, name) {
  const total = agent.total?.[name] ?? 0;
  const used = agent.used?.[name] ?? 0;
  const offered = agent.offered?.[name] ?? 0;
  return `<td><div class="num">${esc(amount(name, used))} / ${esc(amount(name, total))}</div>${usageBar(used, offered, total)}</td>`;
}

/** An agent's ports: how many are used of its ranges, e.g. `2 of [31000-32000]`. */
function portsCell(agent) {
  const total = agent.total?.ports;
  if (typeof total !== "string") return `<td class="num">–</td>`;
  const used = rangeCount(agent.used?.ports);
  const offered = rangeCount(agent.offered?.ports);
  return `<td><div class="num" title="used: ${esc(agent.used?.ports ?? "[]")}">${used} of <span class="mono">${esc(total)}</span></div>${usageBar(used, offered, rangeCount(total))}</td>`;
}

/** An agent's status: taken out of service by an operator (draining, drained,
 * deactivated), else reachable or not. */
function agentStatus(agent) {
  if (agent.drain) {
    const state = agent.drain.state === "DRAINED" ? "drained" : "draining";
    return `<span class="pill warn">${esc(state)}</span>`;
  }
  if (agent.deactivated) return `<span class="pill idle">deactivated</span>`;
  return yesNo(agent.active, "active", "unreachable");
}

/** A maintenance window: `2030-01-31 22:00:00 for 2h`, or `from …` with no end. */
function windowText(unavailability) {
  if (!unavailability) return "–";
  const start = new Date(unavailability.start * 1000).toLocaleString();
  const length = unavailability.duration_seconds;
  return length === undefined ? `from ${start}` : `${start} for ${duration(length)}`;
}

/** A machine mode as a pill: DRAINING (scheduled) or DOWN (in maintenance). */
function modePill(mode) {
  return `<span class="pill ${mode === "DOWN" ? "bad" : "warn"}" data-mode="${esc(mode)}">${esc(mode)}</span>`;
}

/** The agent's machine mode: UP, or DRAINING with its window. */
function maintenanceCell(agent) {
  if (!agent.unavailability) return `<td><span class="pill idle" data-mode="UP">UP</span></td>`;
  return `<td>${modePill("DRAINING")}<div>${esc(windowText(agent.unavailability))}</div></td>`;
}

/** The machines in the maintenance schedule, as Mesos's maintenance page lists them. */
function machines(list) {
  const rows = list.map((m) => `<tr data-machine="${esc(m.hostname || m.ip)}">
    <td>${esc(m.hostname || "–")}</td><td class="mono">${esc(m.ip || "–")}</td>
    <td>${modePill(m.mode)}</td><td>${esc(windowText(m.unavailability))}</td></tr>`);
  return `<h2>Maintenance</h2>
    ${table(["hostname", "ip", "mode", "unavailability"], rows, "No machine is scheduled for maintenance: every machine is UP.")}`;
}

export function agents(state, { now }) {
  const rows = (state.agents ?? []).map((a) => `<tr data-agent-id="${esc(a.id)}">
    <td>${shortId(a.id)}</td><td>${esc(a.hostname)}</td><td class="mono">${esc(a.address)}</td>
    <td>${agentStatus(a)}</td>${maintenanceCell(a)}<td>${ago(a.registered_time, now)}</td>
    ${MAIN_RESOURCES.map((n) => resourceCell(a, n)).join("")}
    ${portsCell(a)}
    <td class="num">${esc(a.active_tasks)}</td></tr>`);
  return `<h1>Agents</h1>${table(
    ["id", "hostname", "address", "status", "machine", "registered", "cpus used / total", "mem used / total", "disk used / total", "ports used", ">tasks"],
    rows, "No agent has registered.")}
    <div class="legend"><span><i class="swatch used"></i>used</span><span><i class="swatch offered"></i>offered</span><span><i class="swatch free"></i>free</span></div>
    ${machines(state.maintenance ?? [])}`;
}

export function frameworks(state) {
  const list = state.frameworks ?? [];
  const scale = Math.max(1e-9, ...list.map((f) => f.weighted_dominant_share));
  const rows = list.map((f) => `<tr data-framework-id="${esc(f.id)}">
    <td><b>${esc(f.name)}</b><div>${shortId(f.id)} ${webLink(f.webui_url, "web UI ↗")}</div></td>
    <td>${esc(f.roles.join(", ") || "*")}</td>
    <td>${yesNo(f.connected, "connected", "disconnected")}</td>
    <td class="num">${esc(share(f.weight))}</td>
    <td class="num">${esc(share(f.dominant_share))}</td>
    <td>${shareBar(f.weighted_dominant_share, scale, share(f.weighted_dominant_share))}</td>
    <td>${esc(resources(f.used))}</td><td>${esc(resources(f.offered))}</td>
    <td class="num"><a href="#/tasks?framework=${encodeURIComponent(f.id)}">${esc(f.active_tasks)}</a></td></tr>`);
  return `<h1>Frameworks</h1>
    <p class="notice">Weighted DRF offers next to the framework with the smallest weighted dominant share
    (dominant share ÷ weight); the bars are scaled to the largest.</p>
    ${table(["framework", "roles", "status", ">weight", ">dominant share", "weighted dominant share", "used", "offered", ">active tasks"],
      rows, "No framework has subscribed.")}
    ${completedFrameworks(state.completed_frameworks ?? [])}`;
}

// Removed frameworks the master still remembers, newest first, with a link to their tasks.
function completedFrameworks(list) {
  if (list.length === 0) return "";
  const rows = [...list].reverse().map((f) => `<tr data-framework-id="${esc(f.id)}">
    <td><b>${esc(f.name)}</b><div>${shortId(f.id)}</div></td>
    <td>${esc(f.roles.join(", ") || "*")}</td>
    <td>${esc(new Date(f.unregistered_time * 1000).toLocaleString())}</td>
    <td><a href="#/tasks?framework=${encodeURIComponent(f.id)}">tasks</a></td></tr>`);
  return `<h2>Completed frameworks</h2>
    ${table(["framework", "roles", "removed", "tasks"], rows, "")}`;
}

export function roles(state) {
  const list = state.roles ?? [];
  const scale = Math.max(1e-9, ...list.map((r) => r.weighted_share));
  const names = new Map((state.frameworks ?? []).map((f) => [f.id, f.name]));
  const rows = list.map((r) => `<tr data-role="${esc(r.name)}">
    <td><b>${esc(r.name)}</b></td><td class="num">${esc(share(r.weight))}</td>
    <td class="num">${esc(share(r.dominant_share))}</td>
    <td>${shareBar(r.weighted_share, scale, share(r.weighted_share))}</td>
    <td>${esc(resources(r.allocated))}</td>
    <td>${esc(r.framework_ids.map((id) => names.get(id) ?? id).join(", ") || "–")}</td></tr>`);
  return `<h1>Roles and weights</h1>${table(
    ["role", ">weight", ">dominant share", "weighted share", "allocated", "frameworks"], rows, "No role is known yet.")}`;
}
