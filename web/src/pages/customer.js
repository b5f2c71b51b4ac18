// One customer's story: who they are (name and account manager from the state,
// industry and region from the profile events), their score and classes, the open
// churn warning and its reasons, the overall score and the dimensions over time, the
// stage history, and the trail (every event and every derived fact, a page at a
// time). Live, refreshed every few seconds; or "as of" a date, recomputed by the engine
// from the log: the auditor's view (GET /v1/customers/{id}/trail?as_of=).
//
// Two reads: the whole trail (its facts give the charts and the stage history, its
// state the rest), and the page of the trail the table shows, with the API's paging.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import { scoreChart, sparkline } from '../charts/timeline.js';
import { classLabel, date, dateTime, money, number, score, stageName } from '../format.js';
import { every } from '../live.js';
import { CLASS_FIELDS, DIMENSIONS, dimensionOf, millis, openEpisode, stageOf } from '../model.js';
import { attentionHref, errorBox, levelBadge, reasonList } from './common.js';
import { describe } from './trail_text.js';

const TRAIL_PAGE = 50;

// The latest industry and region the customer's profile events told (the state carries
// the name and the account manager, not these).
function profileOf(entries) {
  const profile = {};
  for (const e of entries) {
    const p = e.event?.profile;
    if (!p) continue;
    for (const key of ['industry', 'region']) if (p[key]) profile[key] = p[key];
  }
  return profile;
}

// The time the story ends: the state's clock, or the as-of time.
function endOf(trail) {
  const state = trail.state || {};
  const candidates = [millis(state.asOf), millis(state.churnEpisode?.evaluatedAt), millis(state.lastEventAt), millis(trail.asOf)];
  return Math.max(...candidates.filter((m) => !Number.isNaN(m)));
}

// The overall score and each dimension over time, from the trail's score-change facts,
// ending with the state's values; the stage bands from its stage-change facts.
function history(trail) {
  const state = trail.state;
  const start = millis(state.firstEventAt);
  const end = Math.max(endOf(trail), start);
  const overall = [];
  const dims = new Map();
  const stages = [];
  for (const entry of trail.entries) {
    const change = entry.change;
    if (!change) continue;
    const at = millis(change.eventTime);
    if (change.score) {
      if (overall.length === 0) overall.push({ t: Math.min(start, at), v: change.score.from });
      overall.push({ t: at, v: change.score.to, label: t('fact.score', { from: score(change.score.from), to: score(change.score.to) }) });
      for (const d of change.score.dimensionsBefore || []) {
        const key = dimensionOf(d.dimension);
        if (!dims.has(key)) dims.set(key, [{ t: Math.min(start, at), v: d.score }]);
      }
      for (const d of change.score.dimensionsAfter || []) {
        const key = dimensionOf(d.dimension);
        if (!dims.has(key)) dims.set(key, []);
        dims.get(key).push({ t: at, v: d.score });
      }
    }
    if (change.stage) stages.push({ at, from: stageOf(change.stage.from), to: stageOf(change.stage.to), cause: change.stage.cause, entry });
  }
  overall.push({ t: end, v: state.overallScore });
  for (const d of state.dimensions || []) {
    const key = dimensionOf(d.dimension);
    if (!dims.has(key)) dims.set(key, [{ t: start, v: d.score }]);
    dims.get(key).push({ t: end, v: d.score });
  }
  const bands = stages.map((s, i) => ({ from: s.at, to: i + 1 < stages.length ? stages[i + 1].at : end, stage: s.to, label: stageName(s.to) }));
  return { domain: [start, end], overall, dims, stages, bands };
}

function header(trail, profile) {
  const state = trail.state;
  const stage = stageOf(state.stage);
  return h(
    'div',
    { class: 'page-head customer-head' },
    h('a', { href: '#/attention', class: 'back' }, t('customer.back')),
    h('h1', { 'data-customer': trail.customerId }, state.name || trail.customerId, state.name ? h('span', { class: 'id' }, trail.customerId) : null),
    h(
      'p',
      { class: 'who' },
      h('span', { class: `stage-badge stage-${stage}`, 'data-stage': stage }, stageName(stage)),
      ` ${t('col.since')} ${dateTime(state.stageSince)}`,
      state.owner ? [' · ', h('a', { href: attentionHref({ owner: state.owner }), 'data-owner': state.owner }, t('customer.owner', { owner: state.owner }))] : null,
      profile.industry ? ` · ${profile.industry}` : null,
      profile.region ? ` · ${profile.region}` : null,
    ),
  );
}

function figures(state) {
  const figure = (label, value, attrs) => h('div', { class: 'figure', ...attrs }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
  return h(
    'div',
    { class: 'figures' },
    figure(t('customer.score'), score(state.overallScore), { 'data-score': state.overallScore }),
    // Absent while the partition has no churn risk model (not known, not 0).
    figure(t('customer.churnRisk'), state.churnRisk !== undefined ? number(state.churnRisk, 2) : '—', { 'data-churn-risk': state.churnRisk ?? '' }),
    figure(t('customer.pAlive'), state.pAlive ? number(state.pAlive, 2) : '—'),
    figure(t('customer.expected'), state.expectedPurchases90d ? number(state.expectedPurchases90d, 1) : '—'),
    // Revenue in minor units of the engine's default currency, which the API does not name.
    figure(t('customer.revenue'), money(state.revenueMinor, '')),
    figure(t('customer.events'), number(state.eventsApplied), { 'data-events': state.eventsApplied }),
    figure(t('customer.lastEvent'), date(state.lastEventAt)),
  );
}

function warningCard(trail) {
  const episode = openEpisode(trail.state);
  if (!episode) return h('section', { class: 'card warning-card', 'data-warning': 'none' }, h('h2', null, t('customer.openWarning')), h('p', { class: 'empty' }, t('customer.noWarning')));
  const notices = trail.entries.filter((e) => e.warning && e.warning.warningId === episode.warningId);
  const latest = notices.length ? notices[notices.length - 1].warning : null;
  return h(
    'section',
    { class: `card warning-card warning-${episode.level}`, 'data-warning': episode.warningId },
    h('h2', null, t('customer.openWarning'), ' ', levelBadge(episode.level)),
    h('p', null, t('customer.warningSince', { level: t(`level.${episode.level}`), date: dateTime(episode.startedAt) })),
    latest ? reasonList(latest.reasons) : h('p', { class: 'sub' }, t('risk.noReasons')),
  );
}

function charts(trail, story) {
  const legend = [...new Set(story.bands.map((b) => b.stage))].map((s) => h('span', { class: 'legend-item' }, h('span', { class: `swatch fill-stage-${s}` }), stageName(s)));
  return [
    h(
      'section',
      { class: 'card wide' },
      h('h2', null, t('customer.scoreChart')),
      scoreChart({ name: 'score', title: t('customer.scoreChart'), points: story.overall, bands: story.bands, domain: story.domain }),
      h('div', { class: 'legend' }, legend),
      h('p', { class: 'sub' }, t('customer.scoreNote')),
    ),
    h(
      'section',
      { class: 'card wide' },
      h('h2', null, t('customer.dimensions')),
      h(
        'div',
        { class: 'dims' },
        DIMENSIONS.map((d) => {
          const points = story.dims.get(d) || [];
          const now = points.length ? points[points.length - 1].v : null;
          return h(
            'div',
            { class: 'dim', 'data-dimension': d },
            h('div', { class: 'dim-head' }, h('span', null, t(`dimension.${d}`)), h('strong', null, now === null ? '—' : score(now))),
            sparkline({ name: `dimension-${d}`, title: t(`dimension.${d}`), points, domain: story.domain }),
          );
        }),
      ),
    ),
  ];
}

function stageHistory(story) {
  return h(
    'section',
    { class: 'card wide', 'data-stage-changes': story.stages.length },
    h('h2', null, t('customer.stageHistory')),
    story.stages.length === 0
      ? h('p', { class: 'empty' }, t('customer.noStageChange'))
      : h(
          'table',
          { class: 'list' },
          h('tbody', null, story.stages.map((s) =>
            h(
              'tr',
              null,
              h('td', { class: 'nowrap' }, dateTime(new Date(s.at).toISOString())),
              h('td', { class: 'nowrap' }, s.from ? h('span', { class: `stage-badge stage-${s.from}` }, stageName(s.from)) : '', ' → ', h('span', { class: `stage-badge stage-${s.to}` }, stageName(s.to))),
              h('td', { class: 'sub' }, s.cause),
            ),
          )),
        ),
  );
}

function classesCard(state) {
  return h('section', { class: 'card' }, h('h2', null, t('customer.classes')), h('ul', { class: 'chips' }, CLASS_FIELDS.map((f) => h('li', { 'data-class': f }, classLabel(state, f)))));
}

// The paged trail table: its own reads, a page of TRAIL_PAGE entries at a time, with
// the page tokens seen so far kept to go back.
function trailTable(id, asOf, signal) {
  const tokens = [''];
  let index = 0;
  const box = h('div', { class: 'trail', 'data-trail': 'loading' });

  const load = async () => {
    box.dataset.trail = 'loading';
    let page;
    try {
      page = await api.trailPage(id, { asOf, limit: TRAIL_PAGE, pageToken: tokens[index] }, signal);
    } catch (error) {
      if (!signal.aborted) replace(box, errorBox(error));
      return;
    }
    if (page.nextPageToken && tokens.length === index + 1) tokens.push(page.nextPageToken);
    const entries = page.entries || [];
    const go = (step) => () => {
      index += step;
      load();
    };
    const pager = () =>
      h(
        'div',
        { class: 'pager' },
        h('button', { type: 'button', 'data-trail-page': 'prev', disabled: index === 0, onclick: go(-1) }, t('trail.prev')),
        h('span', null, t('trail.page', { page: index + 1 }), entries.length ? ` · ${t('trail.range', { from: entries[0].position, to: entries[entries.length - 1].position })}` : ''),
        h('button', { type: 'button', 'data-trail-page': 'next', disabled: !page.nextPageToken, onclick: go(1) }, t('trail.next')),
      );
    replace(
      box,
      pager(),
      entries.length === 0
        ? h('p', { class: 'empty' }, t('trail.empty'))
        : h(
            'table',
            { class: 'list trail-table' },
            h('thead', null, h('tr', null, ['col.position', 'col.time', 'col.what', 'col.detail'].map((k) => h('th', null, t(k))))),
            h(
              'tbody',
              null,
              entries.map((entry) => {
                const d = describe(entry);
                return h(
                  'tr',
                  { class: `entry-${d.kind}`, 'data-position': entry.position, 'data-kind': d.kind },
                  h('td', { class: 'num' }, entry.position),
                  h('td', { class: 'nowrap' }, dateTime(d.time)),
                  h('td', null, d.what, d.cause ? h('div', { class: 'sub' }, t(`cause.${d.cause}`)) : null),
                  h('td', { class: 'detail' }, d.detail),
                );
              }),
            ),
          ),
      entries.length > 10 ? pager() : null,
    );
    box.dataset.trail = 'ready';
    box.dataset.pageIndex = String(index);
    box.dataset.entries = String(entries.length);
  };
  load();
  return box;
}

function asOfForm(id, asOf, trail) {
  const input = h('input', { type: 'date', name: 'as_of', value: asOf ? asOf.slice(0, 10) : '', 'data-as-of-input': '', required: true });
  if (trail?.state?.firstEventAt) input.min = date(trail.state.firstEventAt);
  const base = `#/customer/${encodeURIComponent(id)}`;
  return h(
    'form',
    {
      class: asOf ? 'as-of past' : 'as-of',
      onsubmit: (e) => {
        e.preventDefault();
        if (input.value) location.hash = `${base}?as_of=${input.value}`;
      },
    },
    h('label', null, h('span', null, t('customer.asOf')), input),
    h('button', { type: 'submit', 'data-as-of-submit': '' }, t('customer.show')),
    h('a', { href: base, class: asOf ? 'button' : 'button current', 'data-live-link': '' }, t('customer.live')),
    h('span', { class: 'mode' }, asOf ? t('customer.asOfNote', { date: asOf }) : t('customer.liveNote')),
  );
}

export function render(view, { param: id, query, signal, setLive }) {
  view.dataset.page = 'customer';
  view.dataset.customer = id;
  const asOf = query.get('as_of') || '';
  if (asOf) view.dataset.asOf = asOf;
  const story = h('div', { class: 'grid' }, h('p', { class: 'loading' }, t('status.loading')));
  const form = h('div', null, asOfForm(id, asOf, null));
  const trailCard = h('section', { class: 'card wide' }, h('h2', null, t('customer.trail')));
  replace(view, form, story, trailCard);
  let rounds = 0;
  let drawn = null; // what the drawn story was read at

  const draw = (trail) => {
    view.dataset.round = String(++rounds);
    if (!asOf) setLive({ loadedAt: new Date(), clock: endOf(trail) });
    // Redrawn only when the customer's projection moved on.
    const signature = `${trail.projectedTo}/${trail.unprojectedEvents}/${trail.entries.length}/${trail.state?.asOf}/${trail.state?.churnEpisode?.evaluatedAt}`;
    if (signature === drawn) return;
    drawn = signature;
    if (!trail.state) {
      replace(story, h('div', { class: 'page-head' }, h('h1', null, id)), h('p', { class: 'empty', 'data-state': 'none' }, t('customer.noState')));
    } else {
      const profile = profileOf(trail.entries);
      const s = history(trail);
      replace(
        story,
        header(trail, profile),
        figures(trail.state),
        warningCard(trail),
        classesCard(trail.state),
        charts(trail, s),
        stageHistory(s),
        Number(trail.unprojectedEvents) > 0 ? h('p', { class: 'sub' }, t('customer.unprojected', { count: trail.unprojectedEvents })) : null,
      );
      if (!form.dataset.bounded) {
        // Drawn again once, now that the first event's date bounds the date input.
        replace(form, asOfForm(id, asOf, trail));
        form.dataset.bounded = 'true';
      }
    }
    view.dataset.ready = 'true';
  };
  const failed = (error) => {
    drawn = null;
    replace(story, error.status === 404 ? h('p', { class: 'error', 'data-error': 404 }, t('status.notFound', { id })) : errorBox(error));
    view.dataset.ready = 'error';
  };

  const load = (s) => api.wholeTrail(id, asOf, s);
  if (asOf) {
    // Recomputed from the log: once, and the table's page after it (the engine
    // recomputes one as-of trail at a time).
    load(signal).then(draw, (e) => !signal.aborted && failed(e)).finally(() => {
      if (!signal.aborted) trailCard.append(trailTable(id, asOf, signal));
    });
  } else {
    trailCard.append(trailTable(id, '', signal));
    every(signal, load, draw, failed);
  }
}
