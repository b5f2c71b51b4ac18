// "Who needs me this week, and why", for the account manager: the customers with an
// open churn warning, at risk or being won back, the most at risk first, each with the
// open warning's reasons in words; filterable by stage, class and warning level, or
// widened to every customer. The filters live in the route (#/attention?stage=...), so
// a filtered list can be bookmarked. Live: refreshed every few seconds.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { classTerm, date, number, score, stageName } from '../format.js';
import { every } from '../live.js';
import { CLASS_FIELDS, LEVELS, STAGES, classValue, needsAttention, openEpisode, riskOrder, stageOf } from '../model.js';
import * as population from '../population.js';
import { customerHref, customerLink, errorBox, levelBadge, reasonList } from './common.js';

const SHOWN = 200;

function filtersOf(query) {
  return {
    stage: query.get('stage') || '',
    klass: query.get('class') || '',
    level: query.get('level') || '',
    all: query.get('all') === '1',
  };
}

function routeOf(filters) {
  const q = new URLSearchParams();
  if (filters.all) q.set('all', '1');
  if (filters.stage) q.set('stage', filters.stage);
  if (filters.klass) q.set('class', filters.klass);
  if (filters.level) q.set('level', filters.level);
  const s = q.toString();
  return `#/attention${s ? `?${s}` : ''}`;
}

function matches(state, filters) {
  if (!filters.all && !needsAttention(state)) return false;
  if (filters.stage && stageOf(state.stage) !== filters.stage) return false;
  if (filters.klass) {
    const [field, value] = filters.klass.split(':', 2);
    if (classValue(state, field) !== value) return false;
  }
  if (filters.level) {
    const episode = openEpisode(state);
    if (!episode || episode.level !== filters.level) return false;
  }
  return true;
}

function select(name, label, current, options, onChange) {
  return h(
    'label',
    null,
    h('span', null, label),
    h(
      'select',
      { name, 'data-filter': name, onchange: (e) => onChange(e.target.value) },
      h('option', { value: '' }, t('attention.any')),
      options.map((o) =>
        o.group
          ? h('optgroup', { label: o.group }, o.options.map((x) => h('option', { value: x.value, selected: x.value === current }, x.label)))
          : h('option', { value: o.value, selected: o.value === current }, o.label),
      ),
    ),
  );
}

// The class filter offers the values the population has, per classification.
function classOptions(pop) {
  return CLASS_FIELDS.map((field) => {
    const values = [...new Set(pop.customers.map((c) => classValue(c, field)).filter(Boolean))].sort();
    return { group: t(`class.${field}`), options: values.map((v) => ({ value: `${field}:${v}`, label: `${t(`class.${field}`)}: ${classTerm(field, v)}` })) };
  }).filter((g) => g.options.length > 0);
}

function filterBar(pop, filters) {
  const go = (change) => {
    location.hash = routeOf({ ...filters, ...change });
  };
  return h(
    'form',
    { class: 'filters', onsubmit: (e) => e.preventDefault() },
    select('stage', t('attention.stage'), filters.stage, STAGES.map((s) => ({ value: s, label: stageName(s) })), (stage) => go({ stage })),
    select('class', t('attention.class'), filters.klass, classOptions(pop), (klass) => go({ klass })),
    select('level', t('attention.level'), filters.level, LEVELS.map((l) => ({ value: l, label: t(`level.${l}`) })), (level) => go({ level })),
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', 'data-filter': 'all', checked: filters.all, onchange: (e) => go({ all: e.target.checked }) }),
      h('span', null, t('attention.all')),
    ),
  );
}

function row(pop, state) {
  const episode = openEpisode(state);
  const notice = population.openNotice(pop, state);
  const stage = stageOf(state.stage);
  const open = () => {
    location.hash = customerHref(state.customerId);
  };
  return h(
    'tr',
    { class: 'clickable', 'data-customer': state.customerId, 'data-stage': stage, 'data-level': episode ? episode.level : '', onclick: open },
    h('td', null, customerLink(state.customerId)),
    h('td', null, levelBadge(episode?.level), episode?.startedAt ? h('div', { class: 'sub' }, t('col.since'), ' ', date(episode.startedAt)) : null),
    h('td', null, h('span', { class: `stage-badge stage-${stage}` }, stageName(stage)), h('div', { class: 'sub' }, t('col.since'), ' ', date(state.stageSince))),
    h('td', { class: 'num' }, score(state.overallScore)),
    h('td', { class: 'num' }, state.pAlive ? number(state.pAlive, 2) : '—'),
    h('td', null, episode ? (notice ? reasonList(notice.reasons) : h('span', { class: 'sub' }, t('risk.noReasons'))) : null),
  );
}

function table(pop, filters) {
  const list = pop.customers.filter((c) => matches(c, filters)).sort(riskOrder);
  const total = filters.all ? pop.customers.length : population.attentionCount(pop);
  if (list.length === 0) {
    return h('p', { class: 'empty', 'data-rows': 0 }, filters.all || filters.stage || filters.klass || filters.level ? t('attention.noMatch') : t('attention.none'));
  }
  return h(
    'div',
    null,
    h('p', { class: 'shown', 'data-rows': list.length }, t('attention.shown', { shown: number(list.length), total: number(total) })),
    h(
      'table',
      { class: 'list attention' },
      h(
        'thead',
        null,
        h('tr', null, ['col.customer', 'col.risk', 'col.stage', 'col.score', 'col.pAlive', 'col.why'].map((k) => h('th', { class: k === 'col.score' || k === 'col.pAlive' ? 'num' : null }, t(k)))),
      ),
      h('tbody', null, list.slice(0, SHOWN).map((c) => row(pop, c))),
    ),
    list.length > SHOWN ? h('p', { class: 'more' }, t('attention.more', { count: SHOWN })) : null,
  );
}

export function render(view, { query, signal, setLive }) {
  view.dataset.page = 'attention';
  const filters = filtersOf(query);
  const head = h('div', { class: 'page-head' }, h('h1', null, t('attention.title')), h('p', { class: 'question' }, filters.all ? t('attention.questionAll') : t('attention.question')));
  const bar = h('div');
  const body = h('div');
  replace(view, head, bar, body);
  let rounds = 0;
  let drawn = null; // the signature of the population drawn

  const draw = (pop) => {
    view.dataset.round = String(++rounds);
    setLive(pop);
    // Redrawn only when something changed, so that a row is not replaced under a click.
    if (pop.signature === drawn) return;
    drawn = pop.signature;
    // The filters are drawn once: redrawing them would close an open drop-down.
    if (!bar.firstChild) replace(bar, filterBar(pop, filters));
    replace(body, pop.capped ? h('p', { class: 'capped', 'data-capped': 'true' }, t('portfolio.capped', { count: number(pop.customers.length) })) : null, table(pop, filters));
    view.dataset.ready = 'true';
  };

  const cached = population.lastPopulation();
  if (cached) draw(cached);
  every(signal, population.loadPopulation, draw, (error) => {
    drawn = null;
    replace(body, errorBox(error));
  });
}
