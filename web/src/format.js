// Numbers, dates and terms as the current language writes them. Event times are shown
// in UTC, the engine's time (every projection runs on event time, never the wall clock).

import { language, t, has } from './i18n.js';
import { classValue } from './model.js';

export function number(value, digits = 0) {
  return new Intl.NumberFormat(language(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(
    Number(value) || 0,
  );
}

// A 0..100 score with one decimal.
export const score = (value) => number(value, 1);

// "2025-11-09" (UTC) of an RFC 3339 timestamp; "" when unset.
export function date(timestamp) {
  return timestamp ? new Date(timestamp).toISOString().slice(0, 10) : '';
}

// "2025-11-09 12:58 UTC".
export function dateTime(timestamp) {
  if (!timestamp) return '';
  const iso = new Date(timestamp).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

// The browser's local time of day, for "updated 14:03:07".
export function clockTime(when) {
  return when.toLocaleTimeString(language(), { hour12: false });
}

// Minor units as money: 1234567 EUR -> "€12,345.67" / "€12,345.67".
export function money(minorUnits, currency) {
  const amount = Number(minorUnits || 0) / 100;
  if (!currency) return number(amount, 2);
  try {
    return new Intl.NumberFormat(language(), { style: 'currency', currency }).format(amount);
  } catch {
    return `${number(amount, 2)} ${currency}`;
  }
}

export const stageName = (stage) => t(`stage.${stage}`);
export const levelName = (level) => t(`level.${level}`);

// A class value in words: "A类:高价值客户"; the raw value where no term is known.
export function classTerm(field, value) {
  if (!value) return t('value.none');
  const tier = field.endsWith('_tier') ? `value.tier.${value}` : null;
  const key = tier || `value.${field}.${value}`;
  return has(key) ? t(key) : value.replace(/_/g, ' ');
}

// "ABC分类 A类:高价值客户" for a state's class.
export function classLabel(state, field) {
  return `${t(`class.${field}`)}: ${classTerm(field, classValue(state, field))}`;
}

// A WarningReason in words: the engine's description in English; in Chinese the
// reason code's sentence with its figures (the description is kept as the tooltip).
export function reasonText(reason) {
  const key = `reason.${reason.code}`;
  if (language() === 'en' || !has(key)) return reason.description || reason.code;
  const figure = (v) => (Math.abs(v) < 1 && v !== 0 ? number(v, 2) : number(v, Number.isInteger(v) ? 0 : 1));
  return t(key, { observed: figure(Number(reason.observed) || 0), threshold: figure(Number(reason.threshold) || 0) });
}
