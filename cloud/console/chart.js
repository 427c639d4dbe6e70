// A line chart of one point's history, drawn as inline SVG, with a text summary: times at
// the site, numbers the language's way, the point's unit on the value axis.

import { clockTime, dayMonth, formatNumber, hourMinute, t, unitText, withUnit } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 190;
const PAD = { left: 46, right: 12, top: 24, bottom: 28 }; // the top: room for the unit

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child);
  return el;
}

function extent(history) {
  if (history.value_type === 'state') return [0, 1];
  let lo = Math.min(...history.points.map((p) => p.v));
  let hi = Math.max(...history.points.map((p) => p.v));
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

// The path: a gap in the data (no sample for over two buckets) breaks the line; an on/off
// point is drawn as steps.
function pathOf(history, x, y) {
  const gap = history.interval_s * 1000 * 2.5;
  const step = history.value_type === 'state';
  let d = '';
  let prev = null;
  for (const p of history.points) {
    const px = x(p.t).toFixed(1);
    const py = y(p.v).toFixed(1);
    if (prev === null || p.t - prev.t > gap) {
      d += `M${px},${py}`;
    } else if (step) {
      d += `H${px}V${py}`;
    } else {
      d += `L${px},${py}`;
    }
    prev = p;
  }
  if (step && prev !== null) d += `h${Math.max(2, (history.interval_s * 1000 * (W - PAD.left - PAD.right)) / (history.hours * 3600e3)).toFixed(1)}`;
  return d;
}

export function summary(history, unit) {
  const pts = history.points;
  if (!pts.length) return history.message ? t('chart.no_data_because', { reason: history.message }) : t('chart.no_data');
  const last = pts[pts.length - 1];
  if (history.value_type === 'state') {
    const on = pts.filter((p) => p.v >= 0.5).length;
    return t('chart.summary_state', {
      hours: history.hours, on, total: pts.length, latest: t(last.v >= 0.5 ? 'value.true' : 'value.false'), at: clockTime(last.t),
    });
  }
  const values = pts.map((p) => p.v);
  return t('chart.summary', {
    hours: history.hours,
    low: withUnit(Math.min(...values), unit),
    high: withUnit(Math.max(...values), unit),
    latest: withUnit(last.v, unit),
    at: clockTime(last.t),
  });
}

// An <svg> for `history` (the answer of /api/equipment/{id}/history), labelled by `titleId`.
export function lineChart(history, { titleId, descId, unit, now = Date.now() }) {
  const t1 = now;
  const t0 = now - history.hours * 3600e3;
  const [lo, hi] = extent(history);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (at) => PAD.left + ((at - t0) / (t1 - t0)) * innerW;
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * innerH;

  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-labelledby': titleId,
    'aria-describedby': descId,
    class: 'chart',
    focusable: 'false',
  });
  const grid = s('g', { class: 'grid' });
  const labels = s('g', { class: 'labels' });
  const ticks = history.value_type === 'state' ? [0, 1] : [lo, (lo + hi) / 2, hi];
  for (const v of ticks) {
    grid.append(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    const text = history.value_type === 'state' ? t(v ? 'value.true' : 'value.false') : formatNumber(v);
    labels.append(s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, text));
  }
  const hoursPerTick = history.hours <= 6 ? 1 : history.hours <= 24 ? 6 : 24;
  const tickMs = hoursPerTick * 3600e3;
  for (let at = Math.ceil(t0 / tickMs) * tickMs; at <= t1; at += tickMs) {
    grid.append(s('line', { x1: x(at), x2: x(at), y1: PAD.top, y2: H - PAD.bottom }));
    if (x(at) - PAD.left < 20 || W - PAD.right - x(at) < 20) continue; // no room for a label
    const text = history.hours <= 24 ? hourMinute(at) : dayMonth(at);
    labels.append(s('text', { x: x(at), y: H - 8, 'text-anchor': 'middle' }, text));
  }
  if (history.value_type !== 'state' && unitText(unit)) {
    labels.append(s('text', { x: 4, y: 12, class: 'axis-unit' }, unitText(unit)));
  }
  svg.append(grid, labels, s('path', { d: pathOf(history, x, y), class: 'line' }));
  return svg;
}
