// Pieces every page uses: a link to a customer, an error box, a warning-level badge,
// a churn warning's reasons in words.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { levelName, reasonText } from '../format.js';

export const customerHref = (id) => `#/customer/${encodeURIComponent(id)}`;

export function customerLink(id) {
  return h('a', { href: customerHref(id), class: 'customer-link' }, id);
}

export function errorBox(error) {
  return h('p', { class: 'error', 'data-error': error.status || 'network' }, t('status.error', { message: error.message }));
}

export function levelBadge(level) {
  return level ? h('span', { class: `level-badge level-${level}`, 'data-level': level }, levelName(level)) : h('span', { class: 'level-badge level-none' }, t('risk.none'));
}

// A churn warning's reasons as a list, each with the engine's own description as its
// tooltip and its code as a data attribute.
export function reasonList(reasons) {
  return h(
    'ul',
    { class: 'reasons' },
    (reasons || []).map((r) => h('li', { title: r.description, 'data-reason': r.code }, reasonText(r))),
  );
}
