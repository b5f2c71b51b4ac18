// "Who needs me this week, and why", for the account manager: the customers with an
// open churn warning, at risk or being won back (GET /v1/customers?needs_attention=true),
// the most at risk first, each with the open warning's reasons in words (GET
// /v1/warnings); filterable by account manager, stage and class (the API's owner=,
// stage= and class=) and by warning level (here), or widened to every customer. The
// filters live in the route (#/attention?owner=...&stage=...), so a filtered list can be
// bookmarked. Live: refreshed every few seconds.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { classTerm, date, number, score, stageName } from '../format.js';
import { every } from '../live.js';
import { LEVELS, STAGES, openEpisode, stageOf } from '../model.js';
import * as population from '../population.js';
import { attentionHref, customerHref, customerLink, errorBox, filterSelect, levelBadge, ownerName, ownerOf, ownerSelect, reasonList } from './common.js';

const SHOWN = 200;

function filtersOf(query) {
  return {
    stage: query.get('stage') || '',
    klass: query.get('class') || '',
    level: query.get('level') || '',
    owner: ownerOf(query),
    all: query.get('all') === '1',
  };
}

// The warning level is the one filter applied here (the API has none for it).
function matchesLevel(state, filters) {
  if (!filters.level) return true;
  const episode = openEpisode(state);
  return episode !== null && episode.level === filters.level;
}

// The class filter offers the values the instance's customers have, per classification.
function classOptions(portfolio) {
  return population.classValues(portfolio).map(({ field, values }) => ({
    group: t(`class.${field}`),
    options: values.map((v) => ({ value: `${field}:${v}`, label: `${t(`class.${field}`)}: ${classTerm(field, v)}` })),
  }));
}

function filterBar(portfolio, filters) {
  const go = (change) => {
    location.hash = attentionHref({ ...filters, ...change });
  };
  return h(
    'form',
    { class: 'filters', onsubmit: (e) => e.preventDefault() },
    ownerSelect(portfolio, filters.owner, (owner) => go({ owner })),
    filterSelect('stage', t('attention.stage'), filters.stage, STAGES.map((s) => ({ value: s, label: stageName(s) })), (stage) => go({ stage })),
    filterSelect('class', t('attention.class'), filters.klass, classOptions(portfolio), (klass) => go({ klass })),
    filterSelect('level', t('attention.level'), filters.level, LEVELS.map((l) => ({ value: l, label: t(`level.${l}`) })), (level) => go({ level })),
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', 'data-filter': 'all', checked: filters.all, onchange: (e) => go({ all: e.target.checked }) }),
      h('span', null, t('attention.all')),
    ),
  );
}

function row(data, state) {
  const episode = openEpisode(state);
  const notice = population.openNotice(data, state);
  const stage = stageOf(state.stage);
  const open = () => {
    location.hash = customerHref(state.customerId);
  };
  return h(
    'tr',
    { class: 'clickable', 'data-customer': state.customerId, 'data-stage': stage, 'data-level': episode ? episode.level : '', onclick: open },
    h('td', null, customerLink(state.customerId), state.name || state.owner ? h('div', { class: 'sub' }, [state.name, state.owner ? ownerName(state.owner) : ''].filter(Boolean).join(' · ')) : null),
    h('td', null, levelBadge(episode?.level), episode?.startedAt ? h('div', { class: 'sub' }, t('col.since'), ' ', date(episode.startedAt)) : null),
    h('td', null, h('span', { class: `stage-badge stage-${stage}` }, stageName(stage)), h('div', { class: 'sub' }, t('col.since'), ' ', date(state.stageSince))),
    h('td', { class: 'num' }, score(state.overallScore)),
    h('td', { class: 'num' }, state.pAlive ? number(state.pAlive, 2) : '—'),
    h('td', null, episode ? (notice ? reasonList(notice.reasons) : h('span', { class: 'sub' }, t('risk.noReasons'))) : null),
  );
}

function table(data, filters) {
  // The most at risk first (population.loadAttention sorts them), of what was read: the
  // first CAP customers the filters select when capped.
  const list = data.customers.filter((c) => matchesLevel(c, filters));
  const total = filters.all ? population.customerCount(data.all) : population.attentionCount(data.all);
  if (list.length === 0) {
    const filtered = filters.all || filters.stage || filters.klass || filters.level || filters.owner !== null;
    return h('p', { class: 'empty', 'data-rows': 0 }, filtered ? t('attention.noMatch') : t('attention.none'));
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
      h('tbody', null, list.slice(0, SHOWN).map((c) => row(data, c))),
    ),
    list.length > SHOWN ? h('p', { class: 'more' }, t('attention.more', { count: SHOWN })) : null,
  );
}

export function render(view, { query, signal, setLive }) {
  view.dataset.page = 'attention';
  const filters = filtersOf(query);
  if (filters.owner !== null) view.dataset.owner = filters.owner;
  const head = h('div', { class: 'page-head' }, h('h1', null, t('attention.title')), h('p', { class: 'question' }, filters.all ? t('attention.questionAll') : t('attention.question')));
  const bar = h('div');
  const body = h('div');
  replace(view, head, bar, body);
  let rounds = 0;
  let drawn = null; // the signature of the data drawn
  let ownersDrawn = null; // the owners and class values the filters offer

  const draw = (data) => {
    view.dataset.round = String(++rounds);
    setLive(data);
    // Redrawn only when something changed, so that a row is not replaced under a click.
    if (data.signature === drawn) return;
    drawn = data.signature;
    // The filters are drawn again only when their choices changed: redrawing them
    // would close an open drop-down.
    const choices = JSON.stringify([population.owners(data.all).map((o) => o.owner), population.classValues(data.all)]);
    if (choices !== ownersDrawn) {
      ownersDrawn = choices;
      replace(bar, filterBar(data.all, filters));
    }
    replace(
      body,
      data.capped ? h('p', { class: 'capped', 'data-capped': 'true' }, t('attention.capped', { count: number(data.customers.length) })) : null,
      table(data, filters),
    );
    view.dataset.ready = 'true';
  };

  const load = (s) => population.loadAttention(filters, s);
  const cached = population.lastLoaded(`attention:${JSON.stringify(filters)}`);
  if (cached) draw(cached);
  every(signal, load, draw, (error) => {
    drawn = null;
    replace(body, errorBox(error));
  });
}
