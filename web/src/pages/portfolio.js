// The portfolio, for the sales director: how the accounts are distributed over the
// lifecycle stages and the ABC, intent and development-matrix classes, and who moved
// this week; everyone's, or one account manager's (#/portfolio?owner=NAME). The counts
// are the engine's (GET /v1/portfolio); who moved, GET /v1/customers?entered_since=.
// Live: refreshed every few seconds.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { barChart } from '../charts/bars.js';
import { classTerm, date, dateTime, number, score, stageName } from '../format.js';
import { every } from '../live.js';
import { CLASS_CHARTS, stageOf } from '../model.js';
import * as population from '../population.js';
import { lastStageChange } from '../stage_moves.js';
import { attentionHref, customerLink, errorBox, ownerOf, ownerSelect } from './common.js';

// The moved customers listed, the latest first (each one's trail is read for where it
// came from); the rest are counted.
const MOVED_SHOWN = 24;

function stageChart(portfolio, owner) {
  const rows = population.stageCounts(portfolio).map(({ key, count }) => ({
    key,
    count,
    label: stageName(key),
    href: attentionHref({ all: true, stage: key, owner }),
    colorClass: `fill-stage-${key}`,
  }));
  return barChart('stage', t('chart.stage'), rows);
}

// A class's bars; the customers not classified yet link to every customer (the API's
// class filter names a value).
function classChart(portfolio, field, owner) {
  const rows = population.classCounts(portfolio, field).map(({ key, count }) => ({
    key,
    count,
    label: classTerm(field, key),
    href: attentionHref({ all: true, klass: key ? `${field}:${key}` : '', owner }),
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

function moved(data, signal) {
  const list = data.moved.customers;
  const clock = Number.isNaN(data.clock) ? '' : date(new Date(data.clock).toISOString());
  const total = list.length;
  return h(
    'section',
    { class: 'card wide', 'data-moved': total, 'data-since': data.since },
    h('h2', null, t('moved.title'), h('span', { class: 'count' }, data.moved.capped ? `${number(total)}+` : number(total))),
    h('p', { class: 'question' }, t('moved.question', { date: clock })),
    total === 0
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
                h('td', null, customerLink(c.customerId), c.name ? h('div', { class: 'sub' }, c.name) : null),
                moveCells(c, signal),
                h('td', { class: 'nowrap' }, dateTime(c.stageSince)),
                h('td', { class: 'num' }, score(c.overallScore)),
              ),
            ),
          ),
        ),
    total > MOVED_SHOWN
      ? h('p', { class: 'more' }, t(data.moved.capped ? 'moved.moreCapped' : 'moved.more', { count: number(total - MOVED_SHOWN) }))
      : null,
  );
}

function summary(portfolio, owner) {
  const open = population.openWarningCount(portfolio);
  const attention = population.attentionCount(portfolio);
  return h(
    'div',
    { class: 'summary' },
    h('span', { 'data-total': population.customerCount(portfolio) }, t('portfolio.customers', { count: number(population.customerCount(portfolio)) })),
    h('a', { href: attentionHref({ owner }), class: 'alert', 'data-open-warnings': open }, t('portfolio.openWarnings', { count: number(open) })),
    h('a', { href: attentionHref({ owner }), 'data-need-attention': attention }, t('portfolio.needAttention', { count: number(attention) })),
  );
}

export function render(view, { query, signal, setLive }) {
  view.dataset.page = 'portfolio';
  const owner = ownerOf(query);
  if (owner !== null) view.dataset.owner = owner;
  const bar = h('div');
  const body = h('div', { class: 'grid' });
  replace(view, h('div', { class: 'page-head' }, h('h1', null, t('portfolio.title')), h('p', { class: 'question' }, t('portfolio.question'))), bar, body);
  let rounds = 0;
  let drawn = null; // the signature of the data drawn
  let ownersDrawn = null; // the owners the drop-down offers

  const choose = (chosen) => {
    location.hash = chosen === null ? '#/portfolio' : `#/portfolio?${new URLSearchParams({ owner: chosen })}`;
  };

  const draw = (data) => {
    view.dataset.round = String(++rounds);
    setLive(data);
    // Redrawn only when something changed, so that a row is not replaced under a click.
    if (data.signature === drawn) return;
    drawn = data.signature;
    // The drop-down is drawn again only when the owners changed: redrawing it would
    // close it while open.
    const owners = JSON.stringify(population.owners(data.all).map((o) => o.owner));
    if (owners !== ownersDrawn) {
      ownersDrawn = owners;
      replace(bar, h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() }, ownerSelect(data.all, owner, choose)));
    }
    const portfolio = data.counted;
    const total = population.customerCount(portfolio);
    replace(
      body,
      summary(portfolio, owner),
      total === 0 ? h('p', { class: 'empty' }, owner === null ? t('portfolio.empty') : t('portfolio.emptyOwner')) : null,
      card(t('chart.stage'), stageChart(portfolio, owner)),
      CLASS_CHARTS.map(({ field }) => card(t(`chart.${field}`), classChart(portfolio, field, owner))),
      moved(data, signal),
      h('p', { class: 'hint' }, t('chart.hint')),
    );
    view.dataset.ready = 'true';
  };

  const cached = population.lastLoaded(`portfolio:${owner}`);
  if (cached) draw(cached);
  every(signal, (s) => population.loadPortfolio(owner, s), draw, (error) => {
    drawn = null;
    replace(body, errorBox(error));
  });
}
