// What the portfolio and the attention list show, read through the documented API
// alone: the engine's own counts (GET /v1/portfolio, over every customer of the
// instance), the customers a list needs (GET /v1/customers with the API's filters,
// page by page), and the churn-warning notices of the open episodes (GET /v1/warnings,
// since the earliest of them started), to tell each open warning's reasons.
//
// The account-manager filter is a customer's `owner` (CustomerState.owner): null for
// any, '' for the customers whose profile names none, else the name; it is passed to
// the API (`owner=NAME`, `owner=`), never applied here.

import * as api from './api.js';
import { CLASS_CHARTS, CLASS_FIELDS, STAGES, millis, openEpisode, riskOrder } from './model.js';

// The most customers a list reads (the attention list, "all customers" above all);
// past it the page says so.
export const CAP = 5000;
const WEEK_MS = 7 * 24 * 3600 * 1000;

// The last data each page loaded (by page and filters), to draw a page at once while
// the next read runs.
const latest = new Map();
export function lastLoaded(key) {
  return latest.get(key) || null;
}

// The API's `owner` parameter for an owner filter (undefined: no filter).
function ownerParam(owner) {
  if (owner === null || owner === undefined) return undefined;
  return owner === '' ? api.EMPTY : owner;
}

// RFC 3339 without the milliseconds: "2025-12-24T17:56:17Z".
function rfc3339(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// The latest notice of every warning episode, by warning_id, for the open episodes of
// `customers`.
async function openNotices(customers, signal) {
  const open = customers.map(openEpisode).filter(Boolean);
  const byId = new Map();
  if (open.length === 0) return byId;
  const since = open.map((e) => e.startedAt).filter(Boolean).sort()[0] || '';
  for (const w of await api.warnings(since, signal)) byId.set(w.warningId, w);
  return byId;
}

// What changes when anything shown of a list changes: each customer's log position and
// clocks, and the warning notices.
function listSignature(customers, notices = new Map()) {
  const parts = customers.map((c) => `${c.customerId}@${c.lastPosition}@${c.asOf}@${c.churnEpisode?.evaluatedAt}`);
  for (const [id, w] of notices) parts.push(`${id}#${w.notice}#${w.level}`);
  return parts.join('|');
}

const latestFirst = (a, b) =>
  millis(b.stageSince) - millis(a.stageSince) || (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0);

// The portfolio of an account manager (`owner`, null for everyone's): the engine's
// counts, and who moved this week. The instance's own counts (unfiltered) give the
// owners to choose from and the clock: "this week" is the seven days up to the latest
// event time the projections have seen, whoever's customer it was.
export async function loadPortfolio(owner, signal) {
  const filter = ownerParam(owner);
  const [all, mine] = await Promise.all([
    api.portfolio({}, signal),
    filter === undefined ? null : api.portfolio({ owner: filter }, signal),
  ]);
  const counted = mine || all;
  const clock = millis(all.asOf);
  const since = Number.isNaN(clock) ? '' : rfc3339(clock - WEEK_MS);
  const moved =
    since && Number(counted.customers) > 0
      ? await api.customers({ filters: { entered_since: since, owner: filter }, cap: CAP }, signal)
      : { customers: [], capped: false };
  moved.customers.sort(latestFirst);
  const data = {
    all,
    counted,
    moved,
    since,
    clock,
    loadedAt: new Date(),
    signature: `${JSON.stringify(all)}|${JSON.stringify(mine)}|${since}|${listSignature(moved.customers)}`,
  };
  latest.set(`portfolio:${owner}`, data);
  return data;
}

// The attention list: the customers that need attention (or every customer, with
// `filters.all`) of the stage, class and owner asked, the most at risk first, with the
// open warnings' latest notices; and the instance's counts, for the totals and the
// filters' choices.
export async function loadAttention(filters, signal) {
  const params = {
    needs_attention: filters.all ? undefined : 'true',
    stage: filters.stage,
    class: filters.klass,
    owner: ownerParam(filters.owner),
  };
  const [all, list] = await Promise.all([api.portfolio({}, signal), api.customers({ filters: params, cap: CAP }, signal)]);
  const notices = await openNotices(list.customers, signal);
  list.customers.sort(riskOrder);
  const data = {
    all,
    customers: list.customers,
    capped: list.capped,
    notices,
    clock: millis(all.asOf),
    loadedAt: new Date(),
    signature: `${JSON.stringify(all)}|${listSignature(list.customers, notices)}`,
  };
  latest.set(`attention:${JSON.stringify(filters)}`, data);
  return data;
}

const count = (value) => Number(value) || 0;

// Customers per stage, in lifecycle order: [{key, count}].
export function stageCounts(portfolio) {
  const stages = portfolio.stages || {};
  return STAGES.map((key) => ({ key, count: count(stages[`LIFECYCLE_STAGE_${key.toUpperCase()}`]) }));
}

// Customers per value of a classification, in the chart's order (values the chart does
// not know after them); the customers not classified yet last, as ''.
export function classCounts(portfolio, field) {
  const chart = CLASS_CHARTS.find((c) => c.field === field);
  const counts = new Map((chart ? chart.values : []).map((v) => [v, 0]));
  const given = portfolio.classes?.[field]?.counts || {};
  for (const value of Object.keys(given).sort()) counts.set(value, count(given[value]));
  const rows = [...counts].map(([key, n]) => ({ key, count: n }));
  const none = count(portfolio.customers) - rows.reduce((sum, r) => sum + r.count, 0);
  if (none > 0) rows.push({ key: '', count: none });
  return rows;
}

// Customers with an open churn warning (of any level).
export function openWarningCount(portfolio) {
  return Object.values(portfolio.openWarnings || {}).reduce((sum, n) => sum + count(n), 0);
}

export const attentionCount = (portfolio) => count(portfolio.needingAttention);
export const customerCount = (portfolio) => count(portfolio.customers);

// The account managers and their customer counts, by name ("am-2" before "am-10"); the
// customers with none ('') last.
export function owners(portfolio) {
  const byName = new Intl.Collator('en', { numeric: true });
  return Object.entries(portfolio.owners || {})
    .map(([owner, n]) => ({ owner, count: count(n) }))
    .sort((a, b) => (a.owner === '') - (b.owner === '') || byName.compare(a.owner, b.owner));
}

// The values each classification has among the customers counted: [{field, values}].
export function classValues(portfolio) {
  return CLASS_FIELDS.map((field) => ({ field, values: Object.keys(portfolio.classes?.[field]?.counts || {}).sort() })).filter(
    (f) => f.values.length > 0,
  );
}

// The latest notice of a customer's open warning (its reasons), or null.
export function openNotice(data, state) {
  const episode = openEpisode(state);
  return episode ? data.notices.get(episode.warningId) || null : null;
}
