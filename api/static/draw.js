// SVG drawing for the dashboard: an equirectangular world map and small line charts.
// No libraries: the coastline is Natural Earth 110m, bundled as world-110m.json.

const NS = "http://www.w3.org/2000/svg";
export const MAP_W = 1000;
export const MAP_H = 500;

export function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

export function project(lat, lon) {
  return [((lon + 180) / 360) * MAP_W, ((90 - lat) / 180) * MAP_H];
}

let world = null;
async function loadWorld() {
  if (!world) world = (await fetch("/static/world-110m.json")).json();
  return world;
}

// Draw the base map (graticule + land) into `svg`; returns the overlay group for data.
export async function baseMap(svg) {
  svg.replaceChildren();
  const grid = el("g", { class: "graticule" }, svg);
  for (let lon = -150; lon <= 150; lon += 30) {
    const [x] = project(0, lon);
    el("line", { x1: x, y1: 0, x2: x, y2: MAP_H }, grid);
  }
  for (let lat = -60; lat <= 60; lat += 30) {
    const [, y] = project(lat, 0);
    el("line", { x1: 0, y1: y, x2: MAP_W, y2: y }, grid);
  }
  const { rings } = await loadWorld();
  let d = "";
  for (const ring of rings) {
    for (let i = 0; i < ring.length; i += 2) {
      const [x, y] = project(ring[i + 1], ring[i]);
      d += `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    }
    d += "Z";
  }
  el("path", { class: "land", d }, svg);
  return el("g", { class: "overlay" }, svg);
}

// A polyline through [lat, lon] points, split where it crosses the antimeridian.
export function pathOf(points) {
  let d = "";
  let prevLon = null;
  for (const [lat, lon] of points) {
    const [x, y] = project(lat, lon);
    const jump = prevLon !== null && Math.abs(lon - prevLon) > 180;
    d += `${d === "" || jump ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    prevLon = lon;
  }
  return d;
}

// Fit the map's viewBox around points (with a margin), or reset it to the whole world.
export function zoomTo(svg, points) {
  if (!points.length) {
    svg.setAttribute("viewBox", `0 0 ${MAP_W} ${MAP_H}`);
    return;
  }
  const xy = points.map(([lat, lon]) => project(lat, lon));
  const xs = xy.map((p) => p[0]);
  const ys = xy.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 30;
  let w = Math.max(x1 - x0 + 2 * pad, 120);
  let h = Math.max(y1 - y0 + 2 * pad, 60);
  if (w / h > 2) h = w / 2; else w = h * 2;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  svg.setAttribute("viewBox", `${(cx - w / 2).toFixed(1)} ${(cy - h / 2).toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}`);
}

// A time-series chart. series: [{name, cls, points: [[Date, number]], step}], band: [lo, hi].
export function lineChart(svg, series, { band = null, unit = "", floor = null } = {}) {
  svg.replaceChildren();
  const W = 600, H = 260, L = 52, R = 10, T = 10, B = 28;
  const all = series.flatMap((s) => s.points).filter((p) => p[1] !== null && !Number.isNaN(p[1]));
  if (!all.length) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no data yet";
    return;
  }
  const t0 = Math.min(...all.map((p) => p[0].getTime()));
  const t1 = Math.max(...all.map((p) => p[0].getTime()), t0 + 1);
  let lo = Math.min(...all.map((p) => p[1]));
  let hi = Math.max(...all.map((p) => p[1]));
  if (band) { lo = Math.min(lo, band[0] ?? lo); hi = Math.max(hi, band[1] ?? hi); }
  if (hi === lo) { hi += 1; lo -= 1; }
  const margin = (hi - lo) * 0.08;
  lo -= margin; hi += margin;
  if (floor !== null) lo = Math.max(lo, floor); // an axis below a floor invents a dip
  const x = (t) => L + ((t.getTime() - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  el("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }, svg);
  el("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }, svg);
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    el("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, svg).textContent = `${fmtNum(v)}${unit}`;
  }
  for (let i = 0; i <= 3; i++) {
    const t = new Date(t0 + ((t1 - t0) * i) / 3);
    el("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, svg).textContent = t.toISOString().slice(0, 10);
  }
  if (band && band[0] !== null && band[1] !== null) {
    el("rect", { class: "band", x: L, y: y(band[1]), width: W - L - R, height: y(band[0]) - y(band[1]) }, svg);
  }
  for (const s of series) {
    let d = "";
    let prevY = null;
    for (const [t, v] of s.points) {
      if (v === null) continue;
      if (s.step && prevY !== null) d += `L${x(t).toFixed(1)},${prevY.toFixed(1)}`;
      d += `${d === "" ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      prevY = y(v);
    }
    el("path", { class: `series ${s.cls}`, d, stroke: s.color }, svg);
  }
}

export function fmtNum(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(0)}k`;
  return v.toFixed(1);
}
