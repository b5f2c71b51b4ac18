// Live pages: load, draw, wait PERIOD after the load ended, load again, until the page
// is left. Loads never overlap, so a slow engine is asked less often, not more.

export const PERIOD_SECONDS = 5;

// Calls `load(signal)` now and every PERIOD_SECONDS after the previous one ended, and
// `draw(result)` with each result; `failed(error)` with each error but an abort. Stops
// when `signal` fires.
export function every(signal, load, draw, failed) {
  let timer = null;
  const round = async () => {
    try {
      draw(await load(signal));
    } catch (error) {
      if (signal.aborted) return;
      failed(error);
    }
    if (!signal.aborted) timer = setTimeout(round, PERIOD_SECONDS * 1000);
  };
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  round();
}
