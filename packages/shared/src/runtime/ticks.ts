/**
 * An async iterable with a heartbeat: yields TICK whenever `everyMs` pass
 * without an item, so a loop that waits on a quiet stream (a held call) can
 * still do its periodic duties between items (keep its call record alive).
 */
export const TICK: unique symbol = Symbol('tick');

export async function* withTicks<T>(source: AsyncIterable<T>, everyMs: number): AsyncGenerator<T | typeof TICK> {
  const it = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  let finished = false;
  try {
    for (;;) {
      pending ??= it.next();
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<typeof TICK>((resolve) => (timer = setTimeout(() => resolve(TICK), everyMs)));
      let r: IteratorResult<T> | typeof TICK;
      try {
        r = await Promise.race([pending, tick]);
      } catch (err) {
        finished = true; // the source threw: it is done
        throw err;
      } finally {
        clearTimeout(timer);
      }
      if (r === TICK) {
        yield TICK;
        continue;
      }
      pending = undefined;
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // Leaving early: let the source clean up (cancel its body), once no read of it is in flight.
    if (!finished && pending === undefined) await it.return?.(undefined);
    else if (!finished)
      void pending?.then(
        () => it.return?.(undefined),
        () => undefined,
      );
  }
}

/**
 * Waits for `work`, running `onTick` whenever `everyMs` pass before it
 * settles (one at a time): a held call's periodic duties while its server has
 * not even sent the answer's headers (a server may hold them back until its
 * first event, or send the whole answer as JSON at the end). An onTick that
 * throws ends the wait with its error; `work` then settles unobserved.
 */
export async function awaitWithTicks<T>(work: Promise<T>, everyMs: number, onTick: () => Promise<void>): Promise<T> {
  work.catch(() => undefined); // a rejection after onTick failed is not an unhandled one
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<typeof TICK>((resolve) => (timer = setTimeout(() => resolve(TICK), everyMs)));
    let r: T | typeof TICK;
    try {
      r = await Promise.race([work, tick]);
    } finally {
      clearTimeout(timer);
    }
    if (r !== TICK) return r;
    await onTick();
  }
}
