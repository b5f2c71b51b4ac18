// End-to-end test of guanxi's web view: headless Debian chromium, driven by
// playwright-core, against the view and the API on one origin (the engine itself, or
// tests/web/serve.mjs in front of it), with the engine fed (e.g. by the simulator).
//
//   node tests/web/web_test.mjs BASE_URL [--token TOKEN] [--screenshots DIR]
//                                        [--chromium /usr/bin/chromium]
//
// What it checks, each against the documented API read by the test itself:
// - with --token, the view asks for the token and then works;
// - the portfolio's customer, stage, class, open-warning and attention counts equal
//   GET /v1/portfolio's, and those computed from every customer of GET /v1/customers
//   (which cross-checks the endpoint); "moved this week" lists, the latest first, the
//   customers of GET /v1/customers?entered_since= the week before the portfolio's asOf
//   (and those are the customers whose stage_since says so);
// - the account-manager filter: an owner of /v1/portfolio's `owners` chosen, the counts
//   are /v1/portfolio?owner='s and who moved is its owner's; the attention list of that
//   owner holds exactly /v1/customers?needs_attention=true&owner='s, on choosing another
//   owner there too; a bar's click lists its customers (stage= and owner=), also when the
//   bar is drawn anew between the press and the release;
// - the attention list holds exactly the customers with an open churn warning (their
//   levels) and those at risk or being won back, and each open warning's reasons are
//   those of its latest notice in GET /v1/warnings; the stage filter narrows it;
// - a click on a customer opens its page: the score chart, the score, the open warning,
//   the name and account manager of the state, and the trail's first page and next page
//   as GET .../trail pages them;
// - "as of" a date shows the state and trail the API recomputes as of then;
// - the language switch shows the seeds' Chinese terms, is remembered, and a browser
//   asking for Chinese gets it from the start;
// - while the engine answers 503 (once, simulated in the browser), the view says it is
//   starting and then loads.
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

// Every customer GET /v1/customers lists, with the filters of `query` ("owner=am-3").
async function allCustomers(query = '') {
  const customers = [];
  let token = '';
  do {
    const page = await api(`v1/customers?limit=1000&page_token=${encodeURIComponent(token)}${query ? `&${query}` : ''}`);
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

// Waits until the address satisfies `predicate` and the page of that very route has
// drawn its data (main's data-route is the hash it was drawn for).
async function readyAt(name, predicate, arg) {
  await page.waitForFunction(predicate, arg);
  const hash = await page.evaluate(() => location.hash);
  await page.waitForSelector(`main[data-page="${name}"][data-route=${JSON.stringify(hash)}][data-ready="true"]`);
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

// The charts' counts as GET /v1/portfolio gives them (stages by enum name, classes by
// field, int64 as strings); a class's unclassified customers are those it does not count.
function fromPortfolio(p) {
  const counts = (map) => Object.fromEntries(Object.entries(map || {}).map(([k, n]) => [k, Number(n)]));
  const want = { stage: {} };
  for (const [name, n] of Object.entries(counts(p.stages))) want.stage[stageKey(name)] = n;
  for (const field of ['abc', 'intent_class', 'development_matrix']) {
    want[field] = counts(p.classes?.[field]?.counts);
    const none = Number(p.customers) - Object.values(want[field]).reduce((a, b) => a + b, 0);
    if (none > 0) want[field][''] = none;
  }
  return sorted(want);
}

// The same, counted from the customers' states.
function fromCustomers(customers) {
  return sorted({
    stage: countBy(customers, (c) => stageKey(c.stage)),
    abc: countBy(customers, (c) => c.classes.abc),
    intent_class: countBy(customers, (c) => c.classes.intentClass),
    development_matrix: countBy(customers, (c) => c.classes.developmentMatrix),
  });
}

// What the portfolio page shows: each chart's non-zero bars and the summary's figures.
async function shownPortfolio() {
  const charts = {};
  for (const chart of ['stage', 'abc', 'intent_class', 'development_matrix']) {
    charts[chart] = Object.fromEntries(Object.entries(await barCounts(chart)).filter(([, n]) => n > 0));
  }
  const figure = (attr) => page.$eval(`main [${attr}]`, (e, a) => Number(e.getAttribute(a)), attr);
  return { charts, total: await figure('data-total'), open: await figure('data-open-warnings'), attention: await figure('data-need-attention') };
}

// Compares the portfolio page with GET /v1/portfolio?QUERY and with the customers of GET
// /v1/customers?QUERY counted here.
async function checkPortfolio(query) {
  const result = await settle('portfolio', async () => {
    const portfolio = await api(`v1/portfolio${query ? `?${query}` : ''}`);
    const customers = await allCustomers(query);
    const shown = await shownPortfolio();
    const problems = [];
    const same = (what, got, want) => {
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${what}: shown ${JSON.stringify(got)}, ${JSON.stringify(want)} wanted`);
    };
    same('charts vs /v1/portfolio', shown.charts, fromPortfolio(portfolio));
    same('charts vs /v1/customers', shown.charts, fromCustomers(customers));
    same('customers', [shown.total, shown.total], [Number(portfolio.customers), customers.length]);
    const openOfPortfolio = Object.values(portfolio.openWarnings || {}).reduce((a, n) => a + Number(n), 0);
    same('open warnings', [shown.open, shown.open], [openOfPortfolio, customers.filter((c) => openLevel(c)).length]);
    same('need attention', [shown.attention, shown.attention], [Number(portfolio.needingAttention), customers.filter(needsAttention).length]);
    return { ok: problems.length === 0, problems, customers: customers.length };
  });
  assert.deepEqual(result.problems, []);
  return result;
}

// RFC 3339 in whole seconds, as the page writes entered_since.
const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const MOVED_SHOWN = 24; // web/src/pages/portfolio.js

// "Moved this week" against GET /v1/customers?entered_since= (and ownerQuery): the week
// up to the instance's /v1/portfolio asOf, the latest move first, at most MOVED_SHOWN
// listed, all of them counted; and those are the customers whose stage_since is in the
// week.
async function checkMoved(ownerQuery) {
  const result = await settle('portfolio', async () => {
    const { asOf } = await api('v1/portfolio');
    const since = rfc3339(Date.parse(asOf) - 7 * 24 * 3600 * 1000);
    const moved = await allCustomers(`entered_since=${since}${ownerQuery ? `&${ownerQuery}` : ''}`);
    moved.sort((a, b) => Date.parse(b.stageSince) - Date.parse(a.stageSince) || (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0));
    const everyone = await allCustomers(ownerQuery);
    const inWeek = everyone.filter((c) => Math.floor(Date.parse(c.stageSince) / 1000) >= Date.parse(since) / 1000).map((c) => c.customerId).sort();
    const section = await page.$eval('[data-moved]', (e) => ({
      since: e.dataset.since,
      count: Number(e.dataset.moved),
      rows: [...e.querySelectorAll('tr[data-customer]')].map((tr) => tr.dataset.customer),
    }));
    const problems = [];
    if (section.since !== since) problems.push(`since ${section.since}, ${since} wanted`);
    if (section.count !== moved.length) problems.push(`${section.count} counted, the API lists ${moved.length}`);
    const want = moved.slice(0, MOVED_SHOWN).map((c) => c.customerId);
    if (JSON.stringify(section.rows) !== JSON.stringify(want)) problems.push(`rows ${section.rows}, ${want} wanted`);
    const listed = moved.map((c) => c.customerId).sort();
    if (JSON.stringify(listed) !== JSON.stringify(inWeek)) problems.push(`entered_since lists ${listed}, stage_since says ${inWeek}`);
    return { ok: problems.length === 0, problems, moved: moved.length };
  });
  assert.deepEqual(result.problems, []);
  return result;
}

test('the portfolio counts as GET /v1/portfolio says, and as GET /v1/customers counts', async () => {
  const result = await checkPortfolio('');
  assert.ok(result.customers > 0, 'the engine has customers');
  const moved = await checkMoved('');
  console.log(`# ${result.customers} customers, ${moved.moved} moved this week`);
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

// The attention list shown against GET /v1/customers?needs_attention=true&QUERY: the
// same customers, as many.
async function checkAttentionOf(query) {
  const result = await settle('attention', async () => {
    const want = (await allCustomers(`needs_attention=true&${query}`)).map((c) => c.customerId).sort();
    const rows = (await page.$$eval('tr[data-customer]', (trs) => trs.map((tr) => tr.dataset.customer))).sort();
    const count = Number(await page.$eval('[data-rows]', (e) => e.dataset.rows));
    const problems = [];
    if (count !== want.length) problems.push(`${count} listed, the API lists ${want.length}`);
    // At most 200 rows (web/src/pages/attention.js), the most at risk: all of them here.
    const wanted = new Set(want);
    if (rows.length !== Math.min(want.length, 200) || rows.some((id) => !wanted.has(id))) problems.push(`rows ${rows}, ${want} wanted`);
    return { ok: problems.length === 0, problems, count: want.length };
  });
  assert.deepEqual(result.problems, []);
  return result.count;
}

test('the account-manager filter: the portfolio, who moved and who needs me, of one owner', async () => {
  // The owners with the most customers needing attention, from the API.
  const { owners } = await api('v1/portfolio');
  assert.ok(Object.keys(owners).length > 0, 'the simulator names account managers');
  const attention = countBy(await allCustomers('needs_attention=true'), (c) => c.owner);
  const ranked = Object.keys(owners).sort((a, b) => (attention[b] || 0) - (attention[a] || 0) || (a < b ? -1 : 1));
  const [owner, other] = ranked;
  const ownerQuery = (o) => `owner=${encodeURIComponent(o)}`;

  // The portfolio's drop-down offers every owner of /v1/portfolio.
  const offered = await page.$$eval('select[data-filter="owner"] option', (os) => os.map((o) => o.value).filter(Boolean));
  assert.deepEqual(offered.sort(), Object.keys(owners).map((o) => `o:${o}`).sort());
  await page.selectOption('select[data-filter="owner"]', `o:${owner}`);
  await readyAt('portfolio', (o) => new URLSearchParams(location.hash.split('?')[1] || '').get('owner') === o, owner);
  const mine = await checkPortfolio(ownerQuery(owner));
  assert.equal(mine.customers, Number(owners[owner]));
  await checkMoved(ownerQuery(owner));

  // Its "need attention" leads to the owner's attention list.
  await page.click('[data-need-attention]');
  await readyAt('attention', (o) => location.hash.startsWith('#/attention') && new URLSearchParams(location.hash.split('?')[1] || '').get('owner') === o, owner);
  assert.equal(await page.$eval('select[data-filter="owner"]', (s) => s.value), `o:${owner}`);
  const count = await checkAttentionOf(ownerQuery(owner));
  assert.ok(count > 0, `${owner} has customers needing attention`);

  // Another owner, chosen on the attention list.
  await page.selectOption('select[data-filter="owner"]', `o:${other}`);
  await readyAt('attention', (o) => new URLSearchParams(location.hash.split('?')[1] || '').get('owner') === o, other);
  await checkAttentionOf(ownerQuery(other));

  // A bar's click lists its customers: the owner's customers of that stage.
  await page.evaluate((hash) => {
    location.hash = hash;
  }, `#/portfolio?${ownerQuery(owner)}`);
  await readyAt('portfolio', (o) => location.hash.startsWith('#/portfolio') && new URLSearchParams(location.hash.split('?')[1] || '').get('owner') === o, owner);
  const stages = await barCounts('stage');
  const [stage] = Object.entries(stages).sort((a, b) => b[1] - a[1])[0];
  await page.click(`svg[data-chart="stage"] a[data-key="${stage}"]`);
  await readyAt('attention', (s) => location.hash.includes(`stage=${s}`), stage);
  const listed = Number(await page.$eval('[data-rows]', (e) => e.dataset.rows));
  assert.equal(listed, (await allCustomers(`stage=${stage}&${ownerQuery(owner)}`)).length);
  assert.equal(listed, stages[stage]);

  // Back to everyone's portfolio.
  await page.click('[data-nav="portfolio"]');
  await readyAt('portfolio', () => location.hash === '#/portfolio');
  assert.equal(await page.$eval('select[data-filter="owner"]', (s) => s.value), '');

  // The view draws a chart again when its data moved: a bar drawn anew between the press
  // and the release still lists its customers (the browser gives such a click to the
  // chart around the bar).
  // (After the page's first load: drawn from the cache first, it draws again then.)
  await page.waitForFunction(() => Number(document.querySelector('main').dataset.round) >= 2);
  const bar = `svg[data-chart="stage"] a[data-key="${stage}"]`;
  await page.hover(`${bar} rect.bar-hit`);
  await page.mouse.down();
  await page.$eval(bar, (a) => a.replaceWith(a.cloneNode(true)));
  await page.mouse.up();
  await readyAt('attention', (s) => location.hash.includes(`stage=${s}`) && !location.hash.includes('owner='), stage);
});

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
  await readyAt('attention', () => location.hash.includes('stage=at_risk'));
  const stages = await page.$$eval('tr[data-customer]', (trs) => [...new Set(trs.map((tr) => tr.dataset.stage))]);
  assert.ok(stages.length <= 1 && (stages.length === 0 || stages[0] === 'at_risk'), `stages shown: ${stages}`);
  await page.selectOption('select[data-filter="stage"]', '');
  await readyAt('attention', () => !location.hash.includes('stage='));
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
  // The name and the account manager are the state's.
  assert.equal(await page.$eval('.customer-head h1', (e) => e.firstChild.textContent), state.name || chosen);
  assert.equal(await page.$$eval('.customer-head [data-owner]', (es) => es.map((e) => e.dataset.owner).join()), state.owner || '');
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
  await fresh.route((url) => url.pathname.endsWith('/v1/portfolio'), async (route) => {
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
