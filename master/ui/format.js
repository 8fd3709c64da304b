// Formatting and escaping shared by every page. Every string that came from the master goes
// through esc() before it is put into HTML.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * A link that opens a framework's own UI (`webui_url`) in a new tab, or "" when the URL is
 * not plain http(s): a framework chooses it, so `javascript:` and the like are never linked.
 */
export function webLink(url, text, className = "webui") {
  let parsed;
  try {
    parsed = new URL(String(url ?? ""));
  } catch {
    return "";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "";
  return `<a class="${esc(className)}" href="${esc(parsed.href)}" target="_blank" rel="noopener noreferrer">${esc(text)}</a>`;
}

/** A number with at most `digits` decimals and no trailing zeros: 64, 1.5, 0.25. */
function trim(n, digits) {
  return String(Number(n.toFixed(digits)));
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
  if (!Number.isFinite(n)) return "–";
  let unit = 0;
  let value = Math.abs(n);
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${n < 0 ? "-" : ""}${trim(value, digits)} ${BYTE_UNITS[unit]}`;
}

export function cpus(n) {
  return Number.isFinite(n) ? n.toFixed(2) : "–";
}

/** One resource by its JSON name: cpus, mem_bytes, disk_bytes, a custom scalar, or ranges
 * and sets, which the state carries as Mesos's text (`"[31000-31005, 32000-32010]"`). */
export function amount(name, value) {
  if (typeof value === "string") return value;
  if (name.endsWith("_bytes")) return bytes(value);
  if (name === "cpus") return cpus(value);
  return trim(value ?? 0, 2);
}

/** `mem_bytes` → `mem`. */
export function resourceLabel(name) {
  return name.replace(/_bytes$/, "");
}

/** How many values a ranges text holds: `"[31000-31005, 32000-32000]"` → 7. */
export function rangeCount(text) {
  if (typeof text !== "string") return 0;
  let count = 0;
  for (const [, begin, end] of text.matchAll(/(\d+)-(\d+)/g)) count += Number(end) - Number(begin) + 1;
  return count;
}

/** `{cpus: 1, mem_bytes: 2^30, ports: "[31000-31000]"}` → `cpus 1.00 · mem 1 GiB · ports [31000-31000]`. */
export function resources(map) {
  const parts = Object.entries(map ?? {})
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${resourceLabel(k)} ${amount(k, v)}`);
  return parts.length ? parts.join(" · ") : "–";
}

export function percent(fraction) {
  if (!Number.isFinite(fraction)) return "–";
  return `${trim(fraction * 100, fraction < 0.1 ? 2 : 1)}%`;
}

export function share(n) {
  return Number.isFinite(n) ? n.toFixed(3) : "–";
}

/** Seconds as `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`, `3d 4h`. */
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.floor(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Unix seconds as `12 s ago`, with the exact time in a tooltip. */
export function ago(unixSeconds, now) {
  if (!unixSeconds) return "–";
  const exact = new Date(unixSeconds * 1000).toLocaleString();
  return `<span title="${esc(exact)}">${esc(duration(Math.max(0, now - unixSeconds)))} ago</span>`;
}

/** Long ids stay readable: the first 8 characters, the whole id in a tooltip. */
export function shortId(id) {
  const text = String(id ?? "");
  if (text.length <= 12) return `<span class="mono">${esc(text)}</span>`;
  return `<span class="mono" title="${esc(text)}">${esc(text.slice(0, 8))}…</span>`;
}

const STATE_TONES = {
  FINISHED: "ok", RUNNING: "info", STARTING: "info", STAGING: "idle",
  FAILED: "bad", ERROR: "bad", LOST: "bad", DROPPED: "bad", GONE: "bad", UNREACHABLE: "warn",
  KILLED: "warn", KILLING: "warn", UNKNOWN: "idle",
};

export function statePill(state) {
  return `<span class="pill ${STATE_TONES[state] ?? "idle"}">${esc(state)}</span>`;
}

export function yesNo(ok, yes, no) {
  return ok ? `<span class="pill ok">${esc(yes)}</span>` : `<span class="pill bad">${esc(no)}</span>`;
}

/** Seconds since the epoch, as the master writes times. */
export function nowSeconds() {
  return Date.now() / 1000;
}
