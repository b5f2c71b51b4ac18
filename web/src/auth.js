// The bearer token for an engine started with --http-token-file. Asked for with a small
// form the first time the API answers 401, kept in sessionStorage (this tab only,
// gone when it closes), and sent as `Authorization: Bearer <token>`.

import { h } from './dom.js';
import { t } from './i18n.js';

const STORAGE_KEY = 'guanxi.token';

export function token() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

function remember(value) {
  try {
    sessionStorage.setItem(STORAGE_KEY, value);
  } catch {
    // Kept nowhere: asked again on the next 401.
  }
}

let pending = null;

// Shows the form (once, however many requests were refused) and resolves when a token
// has been entered. `refused`: a token was sent and the engine refused it.
export function askForToken(refused) {
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, 'aria-label': t('auth.title') });
    const form = h(
      'form',
      {
        class: 'token-form',
        'data-auth': 'form',
        onsubmit: (e) => {
          e.preventDefault();
          const value = input.value.trim();
          if (!value) return;
          remember(value);
          dialog.remove();
          pending = null;
          resolve(value);
        },
      },
      h('h2', null, t('auth.title')),
      h('p', null, t('auth.explain')),
      refused ? h('p', { class: 'error', 'data-auth': 'refused' }, t('auth.refused')) : null,
      input,
      h('button', { type: 'submit' }, t('auth.submit')),
    );
    const dialog = h('div', { class: 'overlay', role: 'dialog', 'aria-modal': 'true' }, form);
    document.body.appendChild(dialog);
    input.focus();
  });
  return pending;
}
