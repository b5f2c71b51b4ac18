// The language of the view: English or Simplified Chinese. Chosen from what the user
// set last (localStorage) or else from the browser's languages (navigator.languages),
// and switchable at any time; every visible string goes through t().

import { messages } from './messages.js';

const STORAGE_KEY = 'guanxi.lang';
export const LANGUAGES = ['zh-CN', 'en'];

const listeners = new Set();
let current = initialLanguage();

function fromTag(tag) {
  const lower = String(tag || '').toLowerCase();
  if (lower.startsWith('zh')) return 'zh-CN';
  if (lower.startsWith('en')) return 'en';
  return null;
}

function initialLanguage() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled; the browser's languages decide then.
  }
  if (LANGUAGES.includes(stored)) return stored;
  const tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of tags) {
    const lang = fromTag(tag);
    if (lang) return lang;
  }
  return 'en';
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang) || lang === current) return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered; still switched for this page.
  }
  document.documentElement.lang = lang;
  for (const fn of listeners) fn(lang);
}

// Calls fn(lang) after every switch; returns a function that stops it.
export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// The message `key` in the current language (English when the Chinese table lacks it,
// the key itself when neither has it), with {name} replaced by params.name.
export function t(key, params) {
  const text = messages[current][key] ?? messages.en[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// Whether `key` has a message (in either language).
export function has(key) {
  return key in messages[current] || key in messages.en;
}

document.documentElement.lang = current;
