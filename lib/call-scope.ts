import { AsyncLocalStorage } from "node:async_hooks";
import type { Stage } from "./call-spec.ts";

/** Which call a line is about: the service and stage, never the request or its answer. */
export interface CallScope {
  serviceId: string;
  stage: Stage;
}

/**
 * Lines written deep below a call (the HTTP retry layer, the cache) are made by code shared by
 * every call, which is never told whose call it serves. The call's scope follows it instead:
 * the limiter's queue (p-queue) runs each task in the async context of its `add`.
 */
const scope = new AsyncLocalStorage<CallScope>();

/** The scope of a call being run synchronously: cheaper than the async one, and gone when the code returns. */
let now: CallScope | undefined;

/** Runs `fn`, and everything it goes on to do asynchronously, in the call's scope. */
export const inCallScope = <T>(call: CallScope, fn: () => T): T => scope.run(call, fn);

/** Runs `fn` in the call's scope while it runs synchronously only: for code that starts nothing asynchronous. */
export function inCallScopeNow<T>(call: CallScope, fn: () => T): T {
  const before = now;
  now = call;
  try {
    return fn();
  } finally {
    now = before;
  }
}

/** The fields a log line adds for the call it is written under (`{}` outside any call). */
export function callFields(): Partial<CallScope> {
  const current = now ?? scope.getStore();
  return current ? { serviceId: current.serviceId, stage: current.stage } : {};
}
