import { describe, expect, test } from "bun:test";
import { unlessAborted } from "../lib/unless-aborted.ts";

describe("unlessAborted", () => {
  test("passes the work's value or error through", async () => {
    const signal = new AbortController().signal;
    expect(await unlessAborted(Promise.resolve(7), signal)).toBe(7);
    const failed = async () => unlessAborted(Promise.reject(new Error("boom")), signal);
    await expect(failed()).rejects.toThrow("boom");
  });

  test("an abort, before or while the work is pending, gives undefined at once", async () => {
    const aborted = new AbortController();
    aborted.abort();
    expect(await unlessAborted(new Promise(() => {}), aborted.signal)).toBeUndefined();
    const later = new AbortController();
    const pending = unlessAborted(new Promise(() => {}), later.signal);
    later.abort();
    expect(await pending).toBeUndefined();
  });

  test("leaves no listener on the signal once the work settles (a loop of them keeps nothing)", async () => {
    const controller = new AbortController();
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const { signal } = controller;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, fn: EventListener, options?: AddEventListenerOptions) => (added.push(fn), add(type, fn, options))) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, fn: EventListener) => (removed.push(fn), remove(type, fn))) as typeof signal.removeEventListener;
    for (let i = 0; i < 100; i++) await unlessAborted(Promise.resolve(i), signal);
    await unlessAborted(Promise.reject(new Error("x")), signal).catch(() => {});
    expect(added).toHaveLength(101);
    expect(removed).toEqual(added);
  });
});
