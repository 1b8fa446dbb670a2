/**
 * Calls waiting to retry after a 429 go before new calls to the same endpoint. A provider that
 * counts requests over a window frees its slots a few at a time: a new call started while a
 * retry waits takes the slot the retry waited for, and the retry meets the limit again, until it
 * has spent its attempts and its service fails. So while any call on an endpoint waits to retry
 * after a 429, new calls to that endpoint wait too, and go once the last of those retries is sent.
 * Other answers (a 5xx, a dropped connection) hold nothing: they say nothing about the pace.
 */
export function retryFirst() {
  const waiting = new Map<string, { count: number; gone: PromiseWithResolvers<void> }>();
  return {
    /** A call on `endpoint` starts waiting to retry after `status`: the function returned says its wait has ended (once is enough; more calls are ignored). */
    hold(endpoint: string, status: number | undefined): () => void {
      if (status !== 429) return () => {};
      let entry = waiting.get(endpoint);
      if (!entry) waiting.set(endpoint, (entry = { count: 0, gone: Promise.withResolvers<void>() }));
      const held = entry;
      held.count++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        if (--held.count > 0) return;
        waiting.delete(endpoint);
        held.gone.resolve();
      };
    },
    /** Settles once no call on `endpoint` waits to retry after a 429; undefined when none waits now. */
    gone: (endpoint: string): Promise<void> | undefined => waiting.get(endpoint)?.gone.promise,
  };
}
