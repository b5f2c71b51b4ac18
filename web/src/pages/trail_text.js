// A trail entry in words: what an event was (its kind in the seeds' terms, and its
// figures), what a derived fact changed and why. The engine's own explanations (a stage
// change's cause, a class change's reason) are free text in English and shown as they
// are; churn-warning reasons are put in words by their codes (format.js).

import { t } from '../i18n.js';
import { classTerm, date, levelName, money, reasonText, score, stageName } from '../format.js';
import { causeOf, enumKey, eventKind, levelOf, noticeOf, stageOf } from '../model.js';

// Enum values in words: "CONTACT_LEVEL_EXECUTIVE" -> "executive"; other values as
// they are.
const ENUM_PREFIXES = [
  'CONTACT_CHANGE_KIND_', 'CONTRACT_MILESTONE_KIND_', 'CONTACT_LEVEL_', 'CONTACT_ROLE_', 'CALL_DIRECTION_',
  'ACTIVITY_KIND_', 'PARTICIPATION_STATUS_', 'OPPORTUNITY_STAGE_', 'ORDER_KIND_', 'COMPANY_SIZE_', 'OUTCOME_', 'SEVERITY_',
];
function word(value) {
  if (typeof value !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(value)) return value;
  for (const prefix of ENUM_PREFIXES) {
    const key = enumKey(value, prefix);
    if (key) return key.replace(/_/g, ' ');
  }
  return value.replace(/_/g, ' ').toLowerCase();
}

const isMoney = (v) => v && typeof v === 'object' && 'minorUnits' in v;

// The payload's fields as "name: value" pieces, money as money, ids left out.
function fields(payload) {
  const out = [];
  for (const [key, value] of Object.entries(payload || {})) {
    if (value === '' || value === null || value === undefined || value === false) continue;
    if (/Id$/.test(key) && key !== 'referredCustomerId') continue;
    if (value === 'UNSPECIFIED' || (typeof value === 'string' && value.endsWith('_UNSPECIFIED'))) continue;
    if (isMoney(value)) out.push(`${key}: ${money(value.minorUnits, value.currency)}`);
    else if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) out.push(`${key}: ${date(value)}`);
    else if (typeof value === 'object') continue;
    else if (typeof value === 'number' && !Number.isInteger(value)) out.push(`${key}: ${value.toFixed(2)}`);
    else out.push(`${key}: ${word(value)}`);
  }
  return out;
}

function eventDetail(event, kind) {
  const payload = event[kind] || {};
  const pieces = [];
  if (kind === 'payment' && payload.dueAt && payload.paidAt) {
    const days = Math.round((Date.parse(payload.paidAt) - Date.parse(payload.dueAt)) / 86400000);
    pieces.push(days > 0 ? t('event.days_late', { days }) : t('event.on_time'));
  }
  return [...pieces, ...fields(payload)].join(' · ');
}

// {what, detail, cause, kind} of one TrailEntry.
export function describe(entry) {
  if (entry.event) {
    const kind = eventKind(entry.event);
    return { kind: 'event', what: t(`event.${kind}`), detail: eventDetail(entry.event, kind), time: entry.event.occurredAt, cause: '' };
  }
  const cause = causeOf(entry.cause);
  if (entry.warning) {
    const w = entry.warning;
    return {
      kind: 'warning',
      what: t('fact.warning', { notice: t(`notice.${noticeOf(w.notice)}`), level: levelName(levelOf(w.level)) }),
      detail: (w.reasons || []).map(reasonText).join('; '),
      time: w.eventTime,
      cause,
    };
  }
  const change = entry.change || {};
  if (change.stage) {
    return {
      kind: 'stage',
      what: t('fact.stage', { from: stageName(stageOf(change.stage.from)), to: stageName(stageOf(change.stage.to)) }),
      detail: change.stage.cause || '',
      time: change.eventTime,
      cause,
    };
  }
  if (change.classChange) {
    const c = change.classChange;
    return {
      kind: 'class',
      what: t('fact.class', { field: t(`class.${c.classification}`), from: classTerm(c.classification, c.from), to: classTerm(c.classification, c.to) }),
      detail: c.reason || '',
      time: change.eventTime,
      cause,
    };
  }
  if (change.score) {
    const s = change.score;
    const moved = (s.dimensionsAfter || []).map((d) => {
      const before = (s.dimensionsBefore || []).find((b) => b.dimension === d.dimension);
      const name = t(`dimension.${enumKey(d.dimension, 'DIMENSION_')}`);
      return `${name} ${before ? score(before.score) : '—'} → ${score(d.score)}`;
    });
    return { kind: 'score', what: t('fact.score', { from: score(s.from), to: score(s.to) }), detail: moved.join(' · '), time: change.eventTime, cause };
  }
  return { kind: 'other', what: '', detail: '', time: '', cause };
}
