// Time charts in inline SVG, on event time: a customer's overall score over time with
// the lifecycle stages as coloured bands behind it, and one small chart per dimension
// on the same time axis. Scores are 0..100.

import { svg } from '../dom.js';
import { date, score } from '../format.js';

const DAY = 24 * 3600 * 1000;

function scales(domain, width, height, margin) {
  const [t0, t1] = domain;
  const span = Math.max(t1 - t0, DAY);
  return {
    x: (t) => margin.left + ((t - t0) / span) * (width - margin.left - margin.right),
    y: (v) => margin.top + (1 - v / 100) * (height - margin.top - margin.bottom),
  };
}

// Month starts inside the domain, thinned to at most `most` ticks.
function monthTicks([t0, t1], most) {
  const ticks = [];
  const d = new Date(t0);
  let month = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).getTime();
  while (month <= t1) {
    ticks.push(month);
    const m = new Date(month);
    month = Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1);
  }
  const step = Math.ceil(ticks.length / most);
  return ticks.filter((_, i) => i % step === 0);
}

function path(points, x, y) {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
}

// points: [{t, v, label}] ascending; bands: [{from, to, stage, label}]; domain: [t0, t1].
export function scoreChart({ name, title, points, bands, domain }) {
  const width = 1200;
  const height = 280;
  const margin = { left: 34, right: 14, top: 10, bottom: 24 };
  const { x, y } = scales(domain, width, height, margin);
  const bottom = height - margin.bottom;
  return svg(
    'svg',
    { class: 'timeline', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, 'data-chart': name, 'data-points': points.length },
    bands.map((b) =>
      svg(
        'rect',
        { class: `band fill-stage-${b.stage}`, x: x(b.from), y: margin.top, width: Math.max(1, x(b.to) - x(b.from)), height: bottom - margin.top, 'data-stage': b.stage },
        svg('title', null, `${b.label}: ${date(b.from)} – ${date(b.to)}`),
      ),
    ),
    [0, 25, 50, 75, 100].map((v) => [
      svg('line', { class: 'gridline', x1: margin.left, x2: width - margin.right, y1: y(v), y2: y(v) }),
      svg('text', { class: 'tick', x: margin.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, v),
    ]),
    monthTicks(domain, 12).map((t) => [
      svg('line', { class: 'tick-mark', x1: x(t), x2: x(t), y1: bottom, y2: bottom + 4 }),
      svg('text', { class: 'tick', x: x(t), y: bottom + 16, 'text-anchor': 'middle' }, date(new Date(t).toISOString()).slice(0, 7)),
    ]),
    svg('path', { class: 'line overall', d: path(points, x, y) }),
    points.map((p) =>
      svg('circle', { class: 'dot', cx: x(p.t), cy: y(p.v), r: 3 }, svg('title', null, `${date(new Date(p.t).toISOString())}: ${score(p.v)}${p.label ? ` (${p.label})` : ''}`)),
    ),
  );
}

// A small chart of one dimension: its line over the domain and its value now.
export function sparkline({ name, title, points, domain }) {
  const width = 240;
  const height = 70;
  const margin = { left: 4, right: 4, top: 6, bottom: 6 };
  const { x, y } = scales(domain, width, height, margin);
  return svg(
    'svg',
    { class: 'spark', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, 'data-chart': name, 'data-points': points.length },
    svg('line', { class: 'gridline', x1: margin.left, x2: width - margin.right, y1: y(50), y2: y(50) }),
    svg('path', { class: 'line', d: path(points, x, y) }),
    points.length ? svg('circle', { class: 'dot', cx: x(points[points.length - 1].t), cy: y(points[points.length - 1].v), r: 2.5 }) : null,
  );
}
