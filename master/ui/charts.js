// Charts drawn as inline SVG or plain HTML bars: no library, nothing fetched.

import { amount, esc, percent } from "./format.js";

function fraction(part, whole) {
  return whole > 0 ? Math.min(1, Math.max(0, part / whole)) : 0;
}

/** A thin used | offered | free bar as HTML, for table cells. */
export function usageBar(used, offered, total) {
  const u = fraction(used, total) * 100;
  const o = Math.min(100 - u, fraction(offered, total) * 100);
  return `<div class="bar" role="img" aria-label="used ${u.toFixed(0)}%, offered ${o.toFixed(0)}%">`
    + `<span class="used" style="width:${u.toFixed(2)}%"></span>`
    + `<span class="offered" style="width:${o.toFixed(2)}%"></span></div>`;
}

/** A bar for a share in [0, scale], with the value printed beside it. */
export function shareBar(value, scale, label) {
  const width = fraction(value, scale) * 100;
  return `<div class="share"><div class="bar"><span class="used" style="width:${width.toFixed(2)}%"></span></div>`
    + `<span class="num">${esc(label)}</span></div>`;
}

/** One resource as a wide stacked bar with its used and offered parts labelled. */
export function stackedBar(name, used, offered, total) {
  const width = 300;
  const u = fraction(used, total) * width;
  const o = Math.min(width - u, fraction(offered, total) * width);
  return `<svg class="chart" viewBox="0 0 ${width} 34" role="img" aria-label="${esc(name)} used and offered">`
    + `<rect class="free" x="0" y="0" width="${width}" height="18" rx="4"/>`
    + `<rect class="used" x="0" y="0" width="${u.toFixed(2)}" height="18"/>`
    + `<rect class="offered" x="${u.toFixed(2)}" y="0" width="${o.toFixed(2)}" height="18"/>`
    + `<text x="0" y="31">used ${esc(percent(fraction(used, total)))}</text>`
    + `<text x="${width}" y="31" text-anchor="end">offered ${esc(percent(fraction(offered, total)))}</text>`
    + `</svg>`;
}

/**
 * Used and offered amounts of one resource over the last `window` seconds, as step lines.
 * `samples` are `{t, total, used, offered}` maps in time order; a value holds until the next.
 */
export function historyChart(name, samples, now, window) {
  const width = 300;
  const height = 90;
  const top = 13;
  const bottom = height - 14;
  const start = now - window;
  const visible = samples.filter((s, i) => s.t >= start || samples[i + 1]?.t >= start);
  const peak = Math.max(1e-9, ...visible.map((s) => Math.max(s.total[name] ?? 0, s.used[name] ?? 0)));
  const x = (t) => ((Math.max(t, start) - start) / window) * width;
  const y = (v) => bottom - (Math.min(v, peak) / peak) * (bottom - top);
  const steps = (key) => {
    if (visible.length === 0) return "";
    let d = "";
    visible.forEach((s, i) => {
      const v = y(s[key][name] ?? 0);
      d += i === 0 ? `M${x(s.t).toFixed(1)},${v.toFixed(1)}` : `H${x(s.t).toFixed(1)}V${v.toFixed(1)}`;
    });
    return `${d}H${width}`;
  };
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(name)} history">`
    + `<line class="grid" x1="0" y1="${top}" x2="${width}" y2="${top}"/>`
    + `<line class="grid" x1="0" y1="${bottom}" x2="${width}" y2="${bottom}"/>`
    + `<path class="line-offered" d="${steps("offered")}"/>`
    + `<path class="line-used" d="${steps("used")}"/>`
    + `<text x="0" y="${height - 2}">${Math.round(window / 60)} min ago</text>`
    + `<text x="${width}" y="${height - 2}" text-anchor="end">now</text>`
    + `<text x="${width}" y="${top - 3}" text-anchor="end">${esc(amount(name, peak))}</text>`
    + `</svg>`;
}
