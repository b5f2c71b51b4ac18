// The one-line notice under the header: "the engine is starting… retrying in 1 s".
// Several requests may be waiting at once; the latest one's words are shown until every
// one of them has cleared its own.

import { h, replace } from './dom.js';

const waiting = new Map();
let element = null;

export function noticeElement() {
  element = element || h('div', { class: 'notice', role: 'status', 'aria-live': 'polite', hidden: true });
  return element;
}

function show() {
  const el = noticeElement();
  const texts = [...waiting.values()];
  el.hidden = texts.length === 0;
  replace(el, texts.length ? texts[texts.length - 1] : '');
  el.dataset.waiting = String(texts.length);
}

export function setNotice(id, text) {
  waiting.delete(id);
  waiting.set(id, text);
  show();
}

export function clearNotice(id) {
  if (waiting.delete(id)) show();
}
