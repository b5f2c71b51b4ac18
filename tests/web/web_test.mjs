// End-to-end test of guanxi's web view: headless Debian chromium, driven by
// playwright-core, against the view and the API on one origin (the engine itself, or
// tests/web/serve.mjs in front of it), with the engine fed (e.g. by the simulator).
//
//   node tests/web/web_test.mjs BASE_URL [--token TOKEN] [--screenshots DIR]
//                                        [--chromium /usr/bin/chromium]
//
// What it checks, each against the documented API read by the test itself:
// - with --token, the view asks for the token and then works;
// - the portfolio's stage and class counts equal those computed from GET /v1/customers;
// - the attention list holds exactly the customers with an open churn warning (their
//   levels) and those at risk or being won back, and each open warning's reasons are
//   those of its latest notice in GET /v1/warnings; the stage filter narrows it;
// - a click on a customer opens its page: the score chart, the score, the open warning,
//   and the trail's first page and next page as GET .../trail pages them;
// - "as of" a date shows the state and trail the API recomputes as of then;
// - the language switch shows the seeds' Chinese terms, is remembered, and a browser
//   asking for Chinese gets it from the start.
// Waits are for selectors and data attributes, never for time. When the data moves
// while the test compares (a live engine), it compares again after the view's next
// refresh, a bounded number of times.
//
// playwright-core is found next to this file or in $GUANXI_WEB_TEST_MODULES (the
// node_modules scripts/web installs from tests/web/package-lock.json).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    token: { type: 'string', default: '' },
    screenshots: { type: 'string', default: '' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node web_test.mjs BASE_URL [--token TOKEN] [--screenshots DIR] [--chromium PATH]');
  process.exit(2);
}
const base = positionals[0].replace(/\/$/, '');

function loadPlaywright() {
  try {
    return createRequire(import.meta.url)('playwright-core');
  } catch (error) {
    const modules = process.env.GUANXI_WEB_TEST_MODULES;
    if (!modules) throw error;
    return createRequire(path.join(modules, '..', 'package.json'))('playwright-core');
  }
}
const { chromium } = loadPlaywright();

// ---- The API, as the test reads it -------------------------------------------------

async function api(pathAndQuery) {
  const headers = { Accept: 'application/json' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${base}/${pathAndQuery}`, { headers });
    // 503 while partitions are assigned or an as-of trail is being recomputed.
    if (response.status === 503 && attempt < 30) {
      const seconds = Number(response.headers.get('Retry-After') || '1');
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      continue;
    }
    if (response.status !== 200) assert.fail(`GET ${pathAndQuery}: ${response.status} ${await response.text()}`);
    return response.json();
  }
}

async function allCustomers() {
  const customers = [];
  let token = '';
  do {
    const page = await api(`v1/customers?limit=1000&page_token=${encodeURIComponent(token)}`);
    customers.push(...page.customers);
    token = page.nextPageToken;
  } while (token);
  return customers;
}

const stageKey = (s) => s.replace(/^LIFECYCLE_STAGE_/, '').toLowerCase();
const LEVELS = ['watch', 'warning', 'critical'];
const openLevel = (c) => (c.churnEpisode?.warningId ? LEVELS[(c.churnEpisode.level || 1) - 1] : '');
const needsAttention = (c) => openLevel(c) !== '' || ['at_risk', 'winning_back'].includes(stageKey(c.stage));

function countBy(customers, keyOf) {
  const counts = {};
  for (const c of customers) {
    const key = keyOf(c);
    counts[key] = (counts[key] || 0) + 1;
  }
  return counts;
}

// ---- The browser --------------------------------------------------------------------

let browser;
let page;
let chosen; // the customer whose page is opened

before(async () => {
  browser = await chromium.launch({ executablePath: options.chromium, args: ['--no-sandbox'] });
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
});

after(async () => {
  await browser?.close();
});

async function screenshot(name) {
  if (!options.screenshots) return;
  fs.mkdirSync(options.screenshots, { recursive: true });
  await page.screenshot({ path: path.join(options.screenshots, name) });
}

async function ready(name) {
  await page.waitForSelector(`main[data-page="${name}"][data-ready="true"]`);
}

const round = () => page.$eval('main', (m) => Number(m.dataset.round || 0));

// Compares what the page shows with what the API says, again after each of the page's
// next refreshes while they differ (the engine may be ingesting), at most 5 times.
async function settle(name, compare) {
  for (let attempt = 0; ; attempt++) {
    const seen = await round();
    const result = await compare();
    if (result.ok || attempt === 5) return result;
    await page.waitForFunction((r) => Number(document.querySelector('main').dataset.round) > r, seen);
    await ready(name);
  }
}

async function barCounts(chart) {
  return page.$$eval(`svg[data-chart="${chart}"] a`, (bars) => Object.fromEntries(bars.map((b) => [b.dataset.key, Number(b.dataset.count)])));
}

// ---- The checks ---------------------------------------------------------------------

test('the view loads, asking for the token when the engine wants one', async () => {
  await page.goto(`${base}/#/portfolio`);
  if (options.token) {
    await page.waitForSelector('[data-auth="form"]');
    await page.fill('[data-auth="form"] input', options.token);
    await page.click('[data-auth="form"] button');
    await page.waitForSelector('[data-auth="form"]', { state: 'detached' });
  }
  await ready('portfolio');
  assert.equal(await page.$('[data-auth="form"]'), null);
});

test('the portfolio counts stages and classes as GET /v1/customers says', async () => {
  const result = await settle('portfolio', async () => {
    const customers = await allCustomers();
    const want = {
      stage: countBy(customers, (c) => stageKey(c.stage)),
      abc: countBy(customers, (c) => c.classes.abc),
      intent_class: countBy(customers, (c) => c.classes.intentClass),
      development_matrix: countBy(customers, (c) => c.classes.developmentMatrix),
    };
    const got = {};
    for (const chart of Object.keys(want)) {
      got[chart] = Object.fromEntries(Object.entries(await barCounts(chart)).filter(([, n]) => n > 0));
    }
    const total = Number(await page.$eval('[data-total]', (e) => e.dataset.total));
    return { ok: JSON.stringify(got) === JSON.stringify(sorted(want)) && total === customers.length, got, want: sorted(want), total, customers: customers.length };
  });
  assert.deepEqual(result.got, result.want);
  assert.equal(result.total, result.customers);
  assert.ok(result.customers > 0, 'the engine has customers');
  await screenshot('portfolio.png');
});

// The counts in the page's chart order, for comparing as JSON: key order follows the
// charts (lifecycle order, then class order), which the page's own order gives.
function sorted(want) {
  const order = {
    stage: ['identified', 'engaging', 'deepening', 'maintaining', 'at_risk', 'winning_back', 'lost'],
    abc: ['A', 'B', 'C', ''],
    intent_class: ['A', 'B', 'C', 'D', ''],
    development_matrix: ['key_account', 'general_1', 'general_2', 'prospect', ''],
  };
  const out = {};
  for (const [chart, counts] of Object.entries(want)) {
    out[chart] = {};
    for (const key of order[chart]) if (counts[key]) out[chart][key] = counts[key];
  }
  return out;
}

test('the attention list shows who has an open warning, with the reasons of /v1/warnings', async () => {
  await page.click('[data-nav="attention"]');
  await ready('attention');
  const result = await settle('attention', async () => {
    const customers = await allCustomers();
    const { warnings } = await api('v1/warnings?limit=1000');
    const latest = new Map(warnings.map((w) => [w.warningId, w])); // oldest first: the last wins
    const rows = await page.$$eval('tr[data-customer]', (trs) =>
      trs.map((tr) => ({ id: tr.dataset.customer, level: tr.dataset.level, reasons: [...tr.querySelectorAll('[data-reason]')].map((li) => li.dataset.reason) })),
    );
    const total = Number(await page.$eval('[data-rows]', (e) => e.dataset.rows));
    const open = customers.filter((c) => openLevel(c));
    const problems = [];
    if (total !== customers.filter(needsAttention).length) problems.push(`${total} listed, ${customers.filter(needsAttention).length} need attention`);
    const shownOpen = rows.filter((r) => r.level);
    if (shownOpen.length !== Math.min(open.length, rows.length)) problems.push(`${shownOpen.length} open warnings shown of ${open.length}`);
    const byId = new Map(customers.map((c) => [c.customerId, c]));
    for (const row of rows) {
      const c = byId.get(row.id);
      if (!c) { problems.push(`${row.id} is no customer`); continue; }
      if (row.level !== openLevel(c)) problems.push(`${row.id}: level ${row.level}, API ${openLevel(c)}`);
      if (row.level && latest.has(c.churnEpisode.warningId)) {
        const codes = latest.get(c.churnEpisode.warningId).reasons.map((r) => r.code);
        if (JSON.stringify(codes) !== JSON.stringify(row.reasons)) problems.push(`${row.id}: reasons ${row.reasons}, API ${codes}`);
      }
    }
    return { ok: problems.length === 0, problems, rows, open: open.length };
  });
  assert.deepEqual(result.problems, []);
  assert.ok(result.open > 0, 'the simulator planted churners: some warning is open');

  // The stage filter narrows the list to that stage.
  await page.selectOption('select[data-filter="stage"]', 'at_risk');
  await page.waitForFunction(() => location.hash.includes('stage=at_risk'));
  await ready('attention');
  const stages = await page.$$eval('tr[data-customer]', (trs) => [...new Set(trs.map((tr) => tr.dataset.stage))]);
  assert.ok(stages.length <= 1 && (stages.length === 0 || stages[0] === 'at_risk'), `stages shown: ${stages}`);
  await page.selectOption('select[data-filter="stage"]', '');
  await page.waitForFunction(() => !location.hash.includes('stage='));
  await ready('attention');
});

test('a click on a customer opens its page: score chart, open warning, trail pages', async () => {
  const first = page.locator('tr[data-customer]').first();
  chosen = await first.getAttribute('data-customer');
  await first.locator('td').nth(3).click(); // the row, not the link in it
  await page.waitForFunction((id) => location.hash === `#/customer/${encodeURIComponent(id)}`, chosen);
  await ready('customer');
  await page.waitForSelector('svg[data-chart="score"]');
  await page.waitForSelector('[data-trail="ready"]');

  const { state } = await api(`v1/customers/${encodeURIComponent(chosen)}`);
  const shownScore = Number(await page.$eval('[data-score]', (e) => e.dataset.score));
  assert.ok(Math.abs(shownScore - state.overallScore) < 1e-6, `score ${shownScore}, API ${state.overallScore}`);
  assert.equal(await page.$eval('[data-warning]', (e) => e.dataset.warning), state.churnEpisode.warningId || 'none');
  assert.ok(Number(await page.$eval('svg[data-chart="score"]', (e) => e.dataset.points)) >= 1);
  assert.equal(await page.$$eval('[data-dimension]', (d) => d.length), 8);

  await screenshot('customer.png');

  const pageOne = await api(`v1/customers/${encodeURIComponent(chosen)}/trail?limit=50`);
  const positions = () => page.$$eval('tr[data-position]', (trs) => trs.map((tr) => tr.dataset.position));
  const shown = await positions();
  assert.deepEqual(shown, pageOne.entries.map((e) => e.position));
  if (pageOne.nextPageToken) {
    await page.locator('[data-trail-page="next"]').first().click();
    await page.waitForSelector('[data-trail="ready"][data-page-index="1"]');
    const pageTwo = await api(`v1/customers/${encodeURIComponent(chosen)}/trail?limit=50&page_token=${pageOne.nextPageToken}`);
    assert.deepEqual(await positions(), pageTwo.entries.map((e) => e.position));
  }
});

test('"as of" a date shows what the API recomputes from the log', async () => {
  const { state } = await api(`v1/customers/${encodeURIComponent(chosen)}`);
  const first = Date.parse(state.firstEventAt);
  const last = Date.parse(state.lastEventAt);
  const asOf = new Date(first + (last - first) / 2).toISOString().slice(0, 10);
  await page.fill('[data-as-of-input]', asOf);
  await page.click('[data-as-of-submit]');
  await page.waitForSelector(`main[data-page="customer"][data-as-of="${asOf}"][data-ready="true"]`);
  await page.waitForSelector('[data-trail="ready"]');

  const trail = await api(`v1/customers/${encodeURIComponent(chosen)}/trail?as_of=${asOf}&limit=50`);
  assert.ok(trail.asOf, 'the API answered as of a time');
  if (trail.state) {
    assert.equal(await page.$eval('.customer-head [data-stage]', (e) => e.dataset.stage), stageKey(trail.state.stage));
    assert.equal(await page.$eval('[data-events]', (e) => e.dataset.events), String(trail.state.eventsApplied));
  } else {
    await page.waitForSelector('[data-state="none"]');
  }
  const shown = await page.$$eval('tr[data-position]', (trs) => trs.map((tr) => tr.dataset.position));
  assert.deepEqual(shown, trail.entries.map((e) => e.position));
  await screenshot('customer-as-of.png');
});

test('the language switch shows the seeds’ Chinese terms, and is remembered', async () => {
  await page.click('[data-live-link]');
  await page.waitForFunction(() => !location.hash.includes('as_of'));
  await ready('customer');
  await page.click('button[data-lang="zh-CN"]');
  await page.waitForSelector('html[lang="zh-CN"]');
  await ready('customer');
  await page.waitForSelector('[data-trail="ready"]');
  const text = await page.textContent('main');
  for (const term of ['关系评分', '审计轨迹', '接受认可度', '竞争偏向度']) assert.ok(text.includes(term), `the customer page says ${term}`);

  await page.click('[data-nav="portfolio"]');
  await ready('portfolio');
  const portfolio = await page.textContent('main');
  for (const term of ['大客户全生命周期', '流失预警', '挽回', '客户发展策略']) assert.ok(portfolio.includes(term), `the portfolio says ${term}`);

  await page.reload();
  await page.waitForSelector('html[lang="zh-CN"]');
  await page.click('[data-nav="attention"]');
  await ready('attention');
  assert.ok((await page.textContent('main')).includes('本周谁需要我跟进'));
  await screenshot('attention-zh.png');
});

test('a browser asking for Chinese gets Chinese from the start', async () => {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const zhPage = await context.newPage();
  if (options.token) {
    await zhPage.addInitScript((token) => sessionStorage.setItem('guanxi.token', token), options.token);
  }
  await zhPage.goto(`${base}/#/portfolio`);
  await zhPage.waitForSelector('main[data-page="portfolio"][data-ready="true"]');
  assert.equal(await zhPage.getAttribute('html', 'lang'), 'zh-CN');
  assert.ok((await zhPage.textContent('nav')).includes('客户组合'));
  await context.close();
});

test('while the engine answers 503, the view says it is starting and tries again', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const fresh = await context.newPage();
  if (options.token) await fresh.addInitScript((token) => sessionStorage.setItem('guanxi.token', token), options.token);
  // The engine's answer while partitions are being assigned (docs/api.md), once.
  let refused = 0;
  await fresh.route('**/v1/customers?*', async (route) => {
    if (refused++ > 0) return route.fallback();
    await route.fulfill({ status: 503, headers: { 'Retry-After': '1' }, contentType: 'application/json', body: '{"error": "partitions are being assigned"}' });
  });
  await fresh.goto(`${base}/#/portfolio`);
  await fresh.waitForSelector('.notice:not([hidden])');
  assert.match(await fresh.textContent('.notice'), /starting.*partitions are being assigned/);
  await fresh.waitForSelector('main[data-page="portfolio"][data-ready="true"]');
  await fresh.waitForSelector('.notice[hidden]', { state: 'attached' });
  assert.equal(refused >= 2, true);
  await context.close();
});
