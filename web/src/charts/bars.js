// A horizontal bar chart in inline SVG: one bar a category, its label on the left and
// its count on the right; each bar links to the customers behind it. The chart carries
// its numbers as data attributes (data-chart, and data-key / data-count on each bar)
// for the end-to-end test.

import { svg } from '../dom.js';
import { number } from '../format.js';

const WIDTH = 560;
const LABEL = 250; // label column
const COUNT = 64; // count column
const ROW = 26;
const BAR = 18;

// rows: [{key, label, count, href, colorClass}]
export function barChart(name, title, rows) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  const span = WIDTH - LABEL - COUNT;
  const height = rows.length * ROW + 4;
  return svg(
    'svg',
    {
      class: 'bars',
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: 'img',
      'aria-label': title,
      'data-chart': name,
      'data-total': total,
    },
    rows.map((row, i) => {
      const y = i * ROW + 2;
      const width = row.count === 0 ? 0 : Math.max(2, (row.count / max) * span);
      const share = total > 0 ? Math.round((row.count / total) * 100) : 0;
      return svg(
        'a',
        { href: row.href, 'data-key': row.key, 'data-count': row.count },
        svg('title', null, `${row.label}: ${number(row.count)} (${share}%)`),
        svg('rect', { class: 'bar-hit', x: 0, y, width: WIDTH, height: ROW - 2 }),
        svg('text', { class: 'bar-label', x: LABEL - 8, y: y + BAR - 4, 'text-anchor': 'end' }, row.label),
        svg('rect', { class: `bar ${row.colorClass || ''}`, x: LABEL, y, width, height: BAR, rx: 2 }),
        svg('text', { class: 'bar-count', x: LABEL + width + 6, y: y + BAR - 4 }, number(row.count)),
      );
    }),
  );
}
