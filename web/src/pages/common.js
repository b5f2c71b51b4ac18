// Pieces every page uses: a link to a customer, an error box, a warning-level badge,
// a churn warning's reasons in words, the filters' drop-downs and the account-manager
// filter in the route.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { levelName, number, reasonText } from '../format.js';
import { owners } from '../population.js';

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

// A filter's drop-down: "any" (value '') and the options, or groups of them
// ({group, options}). data-filter=NAME names it for the end-to-end test.
export function filterSelect(name, label, current, options, onChange) {
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

// The account-manager filter in a route: `owner=NAME`, `owner=` for the customers whose
// profile names none; null when the route has none.
export function ownerOf(query) {
  return query.has('owner') ? query.get('owner') : null;
}

export const ownerName = (owner) => (owner === '' ? t('owner.none') : owner);

// The account-manager drop-down, of the owners a portfolio counts (the instance's
// own, unfiltered), each with its customer count. Its values are "o:NAME" ("o:" for
// none; '' for any), so that "none" and "any" differ. `onChange(owner)`: null for any.
export function ownerSelect(portfolio, current, onChange) {
  const list = owners(portfolio);
  if (current !== null && !list.some((o) => o.owner === current)) list.push({ owner: current, count: 0 });
  return filterSelect(
    'owner',
    t('filter.owner'),
    current === null ? '' : `o:${current}`,
    list.map(({ owner, count }) => ({ value: `o:${owner}`, label: `${ownerName(owner)} (${number(count)})` })),
    (value) => onChange(value === '' ? null : value.slice(2)),
  );
}

// The attention list's route with these filters: {all, stage, klass, level, owner}.
export function attentionHref(filters) {
  const q = new URLSearchParams();
  if (filters.all) q.set('all', '1');
  if (filters.stage) q.set('stage', filters.stage);
  if (filters.klass) q.set('class', filters.klass);
  if (filters.level) q.set('level', filters.level);
  if (filters.owner !== null && filters.owner !== undefined) q.set('owner', filters.owner);
  const s = q.toString();
  return `#/attention${s ? `?${s}` : ''}`;
}
