// The client of guanxi's documented HTTP API (docs/api.md), and nothing else: the view
// reads no private endpoint. URLs are relative to the page (v1/...), so the view works
// wherever the engine serves it, the API on the same origin.
//
// Every call:
// - sends the bearer token when one is known; on 401 asks for it (auth.js) and retries;
// - on 503 (partitions being assigned, an as-of recomputation already running) shows
//   "starting…" and retries after the Retry-After seconds; likewise, every 2 s, while
//   the engine cannot be reached at all;
// - stops when its AbortSignal fires (the user went to another page);
// - throws ApiError for any other non-2xx answer, with the API's {"error": ...} text.

import { askForToken, token } from './auth.js';
import { t } from './i18n.js';
import { clearNotice, setNotice } from './notice.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Resolves after `seconds`, or rejects with the signal's reason when it fires first.
function wait(seconds, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error || response.statusText;
  } catch {
    return response.statusText;
  }
}

let nextRequestId = 0;

// A query parameter sent with an empty value (`owner=`: the customers whose profile
// names no account manager); an empty string leaves the parameter out.
export const EMPTY = Object.freeze({ toString: () => '' });

export async function get(path, params = {}, signal) {
  const url = new URL(path, document.baseURI);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  const id = ++nextRequestId;
  try {
    for (;;) {
      const sent = token();
      const headers = { Accept: 'application/json' };
      if (sent) headers.Authorization = `Bearer ${sent}`;
      let response;
      try {
        response = await fetch(url, { headers, signal });
      } catch (error) {
        if (signal?.aborted) throw error;
        setNotice(id, t('status.starting', { seconds: 2 }));
        await wait(2, signal);
        continue;
      }
      if (response.status === 401) {
        await askForToken(Boolean(sent));
        continue;
      }
      if (response.status === 503) {
        const seconds = Math.max(1, Number.parseInt(response.headers.get('Retry-After') || '1', 10) || 1);
        const reason = await errorText(response);
        setNotice(id, `${t('status.starting', { seconds })} (${reason})`);
        await wait(seconds, signal);
        continue;
      }
      clearNotice(id);
      if (!response.ok) throw new ApiError(response.status, await errorText(response));
      return await response.json();
    }
  } finally {
    clearNotice(id);
  }
}

const customerPath = (id) => `v1/customers/${encodeURIComponent(id)}`;

// {partition, state} of one customer.
export const customer = (id, signal) => get(customerPath(id), {}, signal);

// One page of a customer's trail (a guanxi.v1.Trail); `asOf` a date or RFC 3339 time.
export const trailPage = (id, { asOf, limit, pageToken } = {}, signal) =>
  get(`${customerPath(id)}/trail`, { as_of: asOf, limit, page_token: pageToken }, signal);

// The whole trail: every page's entries in one Trail (the last page's other fields).
// Large pages, since with as_of each page is recomputed from the log.
export async function wholeTrail(id, asOf, signal) {
  const entries = [];
  let pageToken = '';
  for (;;) {
    const page = await trailPage(id, { asOf, limit: 10000, pageToken }, signal);
    entries.push(...(page.entries || []));
    if (!page.nextPageToken) return { ...page, entries };
    pageToken = page.nextPageToken;
  }
}

// The customers that `filters` select (the parameters of GET /v1/customers: stage,
// class, owner, needs_attention, entered_since), in (partition, customer_id) order,
// 1,000 a page, at most `cap`: {customers, capped}. `capped` says that more customers
// were left unread.
export async function customers({ filters = {}, cap }, signal) {
  const all = [];
  let pageToken = '';
  for (;;) {
    const limit = Math.min(1000, cap - all.length);
    const page = await get('v1/customers', { ...filters, limit, page_token: pageToken }, signal);
    all.push(...(page.customers || []));
    pageToken = page.nextPageToken || '';
    if (!pageToken) return { customers: all, capped: false };
    if (all.length >= cap) return { customers: all, capped: true };
  }
}

// The engine's counts of the customers `filters` select (a guanxi.v1.Portfolio; the
// filters of GET /v1/customers but paging).
export const portfolio = (filters, signal) => get('v1/portfolio', { ...filters }, signal);

// The churn-warning notices with event_time at or after `since` (RFC 3339; '' for all),
// oldest first. The API pages by time: each next call starts at the last notice's time
// again (at or after), so notices already seen are skipped by their identity.
export async function warnings(since, signal) {
  const seen = new Set();
  const all = [];
  let from = since || '';
  for (;;) {
    const page = await get('v1/warnings', { since: from, limit: 1000 }, signal);
    const list = page.warnings || [];
    let fresh = 0;
    for (const w of list) {
      const key = `${w.warningId}|${w.notice}|${w.level}|${w.position}`;
      if (seen.has(key)) continue;
      seen.add(key);
      all.push(w);
      fresh++;
    }
    // Nothing new on a full page: more than a page of notices share one time.
    if (!page.more || list.length === 0 || fresh === 0) return all;
    from = list[list.length - 1].eventTime;
  }
}
