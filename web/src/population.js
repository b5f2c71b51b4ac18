// The population the portfolio and the attention list are computed from, read through
// the documented API alone: every customer from GET /v1/customers (page by page, up to
// CAP), and the churn-warning notices of the open episodes from GET /v1/warnings (since
// the earliest open episode started), to tell each open warning's reasons.
//
// The API has no aggregate endpoint, so the counts are made here; at demo scale
// (hundreds to a few thousand customers) that is a few requests. Past CAP the counts
// cover the first CAP customers and the pages say so.

import * as api from './api.js';
import { millis, openEpisode, STAGES, stageOf, CLASS_CHARTS, classValue, needsAttention } from './model.js';

export const CAP = 5000;
const WEEK_MS = 7 * 24 * 3600 * 1000;

let latest = null;

// The last population loaded, to draw a page at once while the next one loads.
export function lastPopulation() {
  return latest;
}

// The population's clock: the latest event time the projections have seen (a
// customer's own clock, or the time its churn rules were last evaluated at). "This
// week" is the week up to it: the engine runs on event time, not the wall clock.
function clockOf(customers) {
  let clock = NaN;
  for (const c of customers) {
    for (const m of [millis(c.asOf), millis(c.churnEpisode?.evaluatedAt)]) {
      if (!Number.isNaN(m) && !(m <= clock)) clock = m; // the first time, clock is NaN
    }
  }
  return clock;
}

// What changes when anything shown changes: each customer's log position and clocks,
// and the warning notices. Equal signatures: nothing to redraw.
function signatureOf(customers, notices) {
  const parts = customers.map((c) => `${c.customerId}@${c.lastPosition}@${c.asOf}@${c.churnEpisode?.evaluatedAt}`);
  for (const [id, w] of notices) parts.push(`${id}#${w.notice}#${w.level}`);
  return parts.join('|');
}

// The latest notice of every warning episode, by warning_id.
function latestNotices(notices) {
  const byId = new Map();
  for (const w of notices) byId.set(w.warningId, w);
  return byId;
}

export async function loadPopulation(signal) {
  const { customers, capped } = await api.customers({ cap: CAP }, signal);
  const open = customers.map(openEpisode).filter(Boolean);
  let notices = new Map();
  if (open.length > 0) {
    const since = open.map((e) => e.startedAt).filter(Boolean).sort()[0] || '';
    notices = latestNotices(await api.warnings(since, signal));
  }
  latest = { customers, capped, clock: clockOf(customers), notices, loadedAt: new Date(), signature: signatureOf(customers, notices) };
  return latest;
}

// Customers per stage, in lifecycle order: [{key, count}].
export function stageCounts(population) {
  const counts = new Map(STAGES.map((s) => [s, 0]));
  for (const c of population.customers) {
    const stage = stageOf(c.stage);
    if (counts.has(stage)) counts.set(stage, counts.get(stage) + 1);
  }
  return [...counts].map(([key, count]) => ({ key, count }));
}

// Customers per value of a classification; customers with no value last, as ''.
export function classCounts(population, field) {
  const chart = CLASS_CHARTS.find((c) => c.field === field);
  const counts = new Map((chart ? chart.values : []).map((v) => [v, 0]));
  let none = 0;
  for (const c of population.customers) {
    const value = classValue(c, field);
    if (!value) none++;
    else counts.set(value, (counts.get(value) || 0) + 1);
  }
  const rows = [...counts].map(([key, count]) => ({ key, count }));
  if (none > 0) rows.push({ key: '', count: none });
  return rows;
}

// Customers who entered their current stage in the week up to the population's clock,
// the latest first.
export function movedThisWeek(population) {
  const since = population.clock - WEEK_MS;
  return population.customers
    .filter((c) => millis(c.stageSince) > since)
    .sort((a, b) => millis(b.stageSince) - millis(a.stageSince));
}

export function openWarningCount(population) {
  return population.customers.filter((c) => openEpisode(c) !== null).length;
}

export function attentionCount(population) {
  return population.customers.filter(needsAttention).length;
}

// The latest notice of a customer's open warning (its reasons), or null.
export function openNotice(population, state) {
  const episode = openEpisode(state);
  return episode ? population.notices.get(episode.warningId) || null : null;
}
