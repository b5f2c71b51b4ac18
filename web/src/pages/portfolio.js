// The portfolio, for the sales director: how the accounts are distributed over the
// lifecycle stages and the ABC, intent and development-matrix classes, and who moved
// this week. Live: refreshed every few seconds.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { barChart } from '../charts/bars.js';
import { classTerm, date, dateTime, number, score, stageName } from '../format.js';
import { every } from '../live.js';
import { CLASS_CHARTS, stageOf } from '../model.js';
import * as population from '../population.js';
import { lastStageChange } from '../stage_moves.js';
import { customerLink, errorBox } from './common.js';

const MOVED_SHOWN = 12;

function stageChart(pop) {
  const rows = population.stageCounts(pop).map(({ key, count }) => ({
    key,
    count,
    label: stageName(key),
    href: `#/attention?all=1&stage=${key}`,
    colorClass: `fill-stage-${key}`,
  }));
  return barChart('stage', t('chart.stage'), rows);
}

function classChart(pop, field) {
  const rows = population.classCounts(pop, field).map(({ key, count }) => ({
    key,
    count,
    label: classTerm(field, key),
    href: key ? `#/attention?all=1&class=${encodeURIComponent(`${field}:${key}`)}` : '#/attention?all=1',
    colorClass: `fill-class-${key || 'none'}`,
  }));
  return barChart(field, t(`chart.${field}`), rows);
}

function card(title, chart) {
  return h('section', { class: 'card' }, h('h2', null, title), chart);
}

// The stage a moved customer came from and why, filled in when its trail has been read.
function moveCells(c, signal) {
  const stage = stageOf(c.stage);
  const stageCell = h('td', { class: 'nowrap' }, h('span', { class: `stage-badge stage-${stage}` }, stageName(stage)));
  const causeCell = h('td', { class: 'sub' });
  lastStageChange(c.customerId, c.stageSince, signal).then(
    (move) => {
      if (!move) return;
      if (move.from) stageCell.prepend(h('span', { class: `stage-badge stage-${move.from}`, 'data-from': move.from }, stageName(move.from)), ' → ');
      causeCell.append(move.cause);
    },
    () => {}, // the list stands without it
  );
  return [stageCell, causeCell];
}

function moved(pop, signal) {
  const list = population.movedThisWeek(pop);
  const clock = Number.isNaN(pop.clock) ? '' : date(new Date(pop.clock).toISOString());
  return h(
    'section',
    { class: 'card wide', 'data-moved': list.length },
    h('h2', null, t('moved.title'), h('span', { class: 'count' }, number(list.length))),
    h('p', { class: 'question' }, t('moved.question', { date: clock })),
    list.length === 0
      ? h('p', { class: 'empty' }, t('moved.none'))
      : h(
          'table',
          { class: 'list' },
          h(
            'thead',
            null,
            h('tr', null, ['col.customer', 'col.stage', 'col.why', 'col.entered'].map((k) => h('th', null, t(k))), h('th', { class: 'num' }, t('col.score'))),
          ),
          h(
            'tbody',
            null,
            list.slice(0, MOVED_SHOWN).map((c) =>
              h(
                'tr',
                { 'data-customer': c.customerId },
                h('td', null, customerLink(c.customerId)),
                moveCells(c, signal),
                h('td', { class: 'nowrap' }, dateTime(c.stageSince)),
                h('td', { class: 'num' }, score(c.overallScore)),
              ),
            ),
          ),
        ),
    list.length > MOVED_SHOWN ? h('p', { class: 'more' }, t('moved.more', { count: number(list.length - MOVED_SHOWN) })) : null,
  );
}

function summary(pop) {
  return h(
    'div',
    { class: 'summary' },
    h('span', { 'data-total': pop.customers.length }, t('portfolio.customers', { count: number(pop.customers.length) })),
    h('a', { href: '#/attention', class: 'alert', 'data-open-warnings': population.openWarningCount(pop) }, t('portfolio.openWarnings', { count: number(population.openWarningCount(pop)) })),
    h('a', { href: '#/attention' }, t('portfolio.needAttention', { count: number(population.attentionCount(pop)) })),
  );
}

export function render(view, { signal, setLive }) {
  view.dataset.page = 'portfolio';
  const body = h('div', { class: 'grid' });
  replace(view, h('div', { class: 'page-head' }, h('h1', null, t('portfolio.title')), h('p', { class: 'question' }, t('portfolio.question'))), body);
  let rounds = 0;
  let drawn = null; // the signature of the population drawn

  const draw = (pop) => {
    view.dataset.round = String(++rounds);
    setLive(pop);
    // Redrawn only when something changed, so that a row is not replaced under a click.
    if (pop.signature === drawn) return;
    drawn = pop.signature;
    replace(
      body,
      summary(pop),
      pop.capped ? h('p', { class: 'capped', 'data-capped': 'true' }, t('portfolio.capped', { count: number(pop.customers.length) })) : null,
      pop.customers.length === 0 ? h('p', { class: 'empty' }, t('portfolio.empty')) : null,
      card(t('chart.stage'), stageChart(pop)),
      CLASS_CHARTS.map(({ field }) => card(t(`chart.${field}`), classChart(pop, field))),
      moved(pop, signal),
      h('p', { class: 'hint' }, t('chart.hint')),
    );
    view.dataset.ready = 'true';
  };

  const cached = population.lastPopulation();
  if (cached) draw(cached);
  every(signal, population.loadPopulation, draw, (error) => {
    drawn = null;
    replace(body, errorBox(error));
  });
}
