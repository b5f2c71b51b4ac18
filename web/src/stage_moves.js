// Where a customer came from: the stage change that brought them into their current
// stage, with its cause. CustomerState says only the stage and since when, so this reads
// the customer's trail (GET /v1/customers/{id}/trail, live) and keeps the answer per
// (customer, stage_since): a later move changes stage_since and asks again.

import * as api from './api.js';
import { stageOf } from './model.js';

const known = new Map();

// {from, to, cause} of the latest stage change, or null when the trail has none.
export function lastStageChange(id, stageSince, signal) {
  const key = `${id}\u0000${stageSince}`;
  if (!known.has(key)) {
    const answer = api.wholeTrail(id, '', signal).then((trail) => {
      const changes = trail.entries.filter((e) => e.change?.stage);
      if (changes.length === 0) return null;
      const { stage } = changes[changes.length - 1].change;
      return { from: stageOf(stage.from), to: stageOf(stage.to), cause: stage.cause || '' };
    });
    // A failed or abandoned read is not kept: the next draw asks again.
    answer.catch(() => known.delete(key));
    known.set(key, answer);
  }
  return known.get(key);
}
