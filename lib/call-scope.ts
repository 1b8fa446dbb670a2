import { AsyncLocalStorage } from "node:async_hooks";
import type { Stage } from "./call-spec.ts";
import type { Session } from "./session.ts";

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

/** The same session, each call run in its own scope. */
export function scopedSession(session: Session): Session {
  return {
    call: (spec) => scope.run({ serviceId: spec.serviceId, stage: spec.stage }, () => session.call(spec)),
  };
}

/** The fields a log line adds for the call it is written under (`{}` outside any call). */
export function callFields(): Partial<CallScope> {
  const current = scope.getStore();
  return current ? { serviceId: current.serviceId, stage: current.stage } : {};
}
