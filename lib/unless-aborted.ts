/**
 * `work`'s value, or `undefined` once `signal` aborts first. Its listener goes when `work`
 * settles, so a loop of these keeps nothing: `Promise.race([work, stopped])` with one promise that
 * lives for the whole run leaves a reaction on it at every turn, and each reaction keeps that
 * turn's result (an input record, a job's evolution) until the run ends.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
