// The view's entry point: the page shell (header, navigation, language switch, live
// status, notice) and the hash router:
//   #/portfolio?owner=     the portfolio (the default), everyone's or one account manager's
//   #/attention?owner=&stage=&class=&level=&all=1   who needs me this week, and why
//   #/customer/ID?as_of=   one customer's story, live or as of a date
// Each page is a module with render(view, context); leaving it fires context.signal,
// which stops its refreshes and its requests.

import { h, replace } from './dom.js';
import { language, LANGUAGES, onLanguageChange, setLanguage, t } from './i18n.js';
import { clockTime, date } from './format.js';
import { PERIOD_SECONDS } from './live.js';
import { noticeElement } from './notice.js';
import { followPressedLinks } from './pressed_links.js';
import * as portfolio from './pages/portfolio.js';
import * as attention from './pages/attention.js';
import * as customer from './pages/customer.js';

const PAGES = { portfolio, attention, customer };

// "#/customer/a%2Fb?as_of=2025-06-01" -> {name: 'customer', param: 'a/b', query}
function parseRoute(hash) {
  const [path, search = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const [name, ...rest] = path.split('/');
  const param = rest.length ? decodeURIComponent(rest.join('/')) : '';
  return { name: PAGES[name] ? name : 'portfolio', param, query: new URLSearchParams(search) };
}

const liveStatus = h('span', { class: 'live-status', 'data-live': 'off' });

// Shows when the page's data was last refreshed (wall clock) and the event time it
// reaches; null: the page is not live.
function setLive(info) {
  if (!info) {
    liveStatus.dataset.live = 'off';
    replace(liveStatus);
    return;
  }
  liveStatus.dataset.live = 'on';
  liveStatus.dataset.updated = info.loadedAt.toISOString();
  replace(
    liveStatus,
    h('span', { class: 'pulse', 'aria-hidden': 'true' }),
    t('live.updated', { time: clockTime(info.loadedAt) }),
    Number.isNaN(info.clock) ? null : ` · ${t('live.clock', { date: date(new Date(info.clock).toISOString()) })}`,
    ` · ${t('live.every', { seconds: PERIOD_SECONDS })}`,
  );
}

const view = h('main', { id: 'view' });
const nav = h('nav');
const languageSwitch = h('div', { class: 'lang-switch', role: 'group', 'aria-label': t('nav.language') });
let controller = null;

function drawHeader(route) {
  languageSwitch.setAttribute('aria-label', t('nav.language'));
  replace(
    nav,
    ['portfolio', 'attention'].map((name) =>
      h('a', { href: `#/${name}`, class: route.name === name ? 'current' : null, 'data-nav': name }, t(`nav.${name}`)),
    ),
  );
  replace(
    languageSwitch,
    LANGUAGES.map((lang) =>
      h(
        'button',
        { type: 'button', 'data-lang': lang, 'aria-pressed': String(lang === language()), onclick: () => setLanguage(lang) },
        lang === 'zh-CN' ? '中文' : 'English',
      ),
    ),
  );
}

function route() {
  if (controller) controller.abort();
  controller = new AbortController();
  const current = parseRoute(location.hash);
  drawHeader(current);
  setLive(null);
  replace(view);
  for (const name of view.getAttributeNames()) if (name.startsWith('data-')) view.removeAttribute(name);
  view.dataset.route = location.hash; // the route drawn, for the end-to-end test to wait on
  PAGES[current.name].render(view, { param: current.param, query: current.query, signal: controller.signal, setLive });
}

document.body.append(
  h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/portfolio' }, h('span', { class: 'brand-zh' }, '关系'), ' guanxi'),
    nav,
    liveStatus,
    languageSwitch,
  ),
  noticeElement(),
  view,
);

window.addEventListener('hashchange', route);
followPressedLinks(document);
onLanguageChange(route);
route();
