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
