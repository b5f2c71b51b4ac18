// What the view knows of the engine's data model (proto/guanxi/v1/*.proto as the HTTP
// API renders it through protobuf's JSON mapping): enum names to short keys, the fixed
// orders of stages, levels and classes, and the questions every page asks of a
// CustomerState.

// Lifecycle stages in the order of the lifecycle (METHOD.md section 4).
export const STAGES = ['identified', 'engaging', 'deepening', 'maintaining', 'at_risk', 'winning_back', 'lost'];

// The classifications the portfolio charts, each with its values in display order.
export const CLASS_CHARTS = [
  { field: 'abc', values: ['A', 'B', 'C'] },
  { field: 'intent_class', values: ['A', 'B', 'C', 'D'] },
  { field: 'development_matrix', values: ['key_account', 'general_1', 'general_2', 'prospect'] },
];

// Every field of guanxi.v1.Classes the filters offer (the API's `class=FIELD:VALUE`).
export const CLASS_FIELDS = [
  'abc', 'intent_class', 'development_matrix', 'value_tier', 'potential_tier', 'loyalty_tier',
  'transaction_quadrant', 'rfm_segment', 'relationship_kind',
];

// The six dimensions of the quantified assessment, then the two families of 002.
export const DIMENSIONS = [
  'acceptance', 'participation', 'information', 'guidance', 'project_support', 'competitive_preference',
  'feeling', 'behaviour',
];

export const LEVELS = ['watch', 'warning', 'critical'];

// "LIFECYCLE_STAGE_AT_RISK" -> "at_risk"; "" for the zero value or anything unknown.
export function enumKey(value, prefix) {
  if (typeof value !== 'string' || !value.startsWith(prefix)) return '';
  const key = value.slice(prefix.length).toLowerCase();
  return key === 'unspecified' ? '' : key;
}

export const stageOf = (value) => enumKey(value, 'LIFECYCLE_STAGE_');
export const dimensionOf = (value) => enumKey(value, 'DIMENSION_');
export const levelOf = (value) => enumKey(value, 'WARNING_LEVEL_');
export const noticeOf = (value) => enumKey(value, 'WARNING_NOTICE_');
export const causeOf = (value) => enumKey(value, 'CAUSE_');

// lowerCamelCase JSON name of a Classes field: "intent_class" -> "intentClass".
export function jsonName(field) {
  return field.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

export function classValue(state, field) {
  const classes = state.classes || {};
  const value = classes[jsonName(field)];
  return value === undefined || value === null ? '' : String(value);
}

// The open churn-warning episode of a customer: {warningId, level, startedAt} or null.
// ChurnEpisode.level is a WarningLevel number (1 watch .. 3 critical).
export function openEpisode(state) {
  const episode = state.churnEpisode;
  if (!episode || !episode.warningId) return null;
  return { warningId: episode.warningId, level: LEVELS[(episode.level || 1) - 1] || 'watch', startedAt: episode.startedAt };
}

// Sort key of churn risk, highest first: the open warning's level, then the stage
// (at risk before winning back before the rest), then the lower score.
export function riskOrder(a, b) {
  const levelRank = (s) => {
    const episode = openEpisode(s);
    return episode ? LEVELS.indexOf(episode.level) + 1 : 0;
  };
  const stageRank = (s) => ({ at_risk: 2, winning_back: 1 })[stageOf(s.stage)] || 0;
  return (
    levelRank(b) - levelRank(a) ||
    stageRank(b) - stageRank(a) ||
    (a.overallScore || 0) - (b.overallScore || 0) ||
    (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0)
  );
}

// The payload kind of an Event: the name of its one payload field ("order", "visit").
const ENVELOPE = new Set(['eventId', 'customerId', 'occurredAt', 'source']);
export function eventKind(event) {
  for (const key of Object.keys(event || {})) {
    if (!ENVELOPE.has(key)) return key;
  }
  return '';
}

// Milliseconds since the epoch of an RFC 3339 timestamp; NaN when unset.
export function millis(timestamp) {
  return timestamp ? Date.parse(timestamp) : NaN;
}
