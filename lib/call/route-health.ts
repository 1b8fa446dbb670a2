import { isSAError } from "../errors.ts";
import type { Clock } from "../clock.ts";
import { retryStatusCodes } from "../retry-status.ts";
import type { Log } from "../log.ts";
import type { Route } from "./context.ts";

/** When a route is skipped (config `circuitBreaker`). */
export interface CircuitBreakerSettings {
  /** Calls in a row that failed after their retries before the route is skipped. @default 3 */
  failures: number;
  /** Milliseconds the route is skipped before one call tries it again; doubled after each failed try, up to 10×. @default 30000 */
  coolDownMs: number;
}

export const defaultCircuitBreaker: CircuitBreakerSettings = { failures: 3, coolDownMs: 30_000 };

/** `ask`: closed; `probe`: the one call that tries an open route after its cool-down; `skip`: open. */
export type Pass = "ask" | "probe" | "skip";

/** A route's run of failed calls; while open, until when and for how long it is skipped. */
interface RouteState {
  failures: number;
  openUntil?: number;
  coolDownMs: number;
  probing: boolean;
  /** The endpoint refused the key (HTTP 401 or 403): skipped for the rest of the run. */
  keyRefused?: boolean;
}

export interface RouteHealth {
  /** Whether a call may ask the route now. */
  admit(route: Route): Pass;
  /** The route answered (even an answer that failed validation): it is up. */
  answered(route: Route): void;
  /** The route failed a call after its retries (`isRouteFailure`). */
  failed(route: Route, pass: Pass): void;
  /** The call ended otherwise (a limit, a stop, a 4xx): a probe gives its turn back. */
  released(route: Route, pass: Pass): void;
  /** The endpoint refused the key (`isKeyRefused`): skipped for the rest of the run, said once with `reason`. */
  keyRefused(route: Route, reason: string): void;
}

/** A route is its endpoint and model: two endpoints serving one model are two routes. */
const routeId = (route: Route) => `${route.provider.name}:${route.provider.model}@${route.provider.baseURL}`;
const modelOf = (route: Route) => `${route.provider.name}:${route.provider.model}`;

/**
 * A provider failure that says the route is down: no answer, or a status worth retrying (5xx,
 * 429, ...), once the retries are spent. A refusal or a 4xx about the request says nothing of it.
 */
export function isRouteFailure(error: unknown): boolean {
  if (!isSAError(error, "E_PROVIDER") || error.details.refused) return false;
  const status = error.details.status;
  return typeof status !== "number" || status < 400 || retryStatusCodes.includes(status);
}

/** An HTTP 401 or 403 from the provider: its key (or the key's rights) was refused, and will be on every call. */
export function isKeyRefused(error: unknown): boolean {
  const status = isSAError(error, "E_USAGE") || isSAError(error, "E_PROVIDER") ? error.details.status : undefined;
  return status === 401 || status === 403;
}

/**
 * The run's record of which routes are down (a circuit breaker per route), shared by every call.
 * Hand-written rather than cockatiel's breaker: there, calls that come while the one test call is
 * out wait for it (here they go to the next model at once), and time is `Date.now`, not our clock.
 */
export function createRouteHealth(options: CircuitBreakerSettings & { clock: Clock; log: Log }): RouteHealth {
  const { clock, log } = options;
  const routes = new Map<string, RouteState>();
  const open = (state: RouteState, coolDownMs: number) => Object.assign(state, { openUntil: clock.now() + coolDownMs, coolDownMs, probing: false });
  return {
    admit(route) {
      const state = routes.get(routeId(route));
      if (state?.openUntil === undefined) return "ask";
      if (state.probing || clock.now() < state.openUntil) return "skip";
      state.probing = true;
      return "probe";
    },
    answered(route) {
      const state = routes.get(routeId(route));
      if (state?.keyRefused) return;
      routes.delete(routeId(route));
      if (state?.openUntil !== undefined) log.info(`${modelOf(route)} answers again: calls go to it again`);
    },
    failed(route, pass) {
      const id = routeId(route);
      const state = routes.get(id) ?? { failures: 0, coolDownMs: options.coolDownMs, probing: false };
      routes.set(id, state);
      if (state.keyRefused) return;
      if (state.openUntil !== undefined) {
        // A failed probe: skipped again, for longer. A call already out when the route opened changes nothing.
        if (pass === "probe") open(state, Math.min(state.coolDownMs * 2, options.coolDownMs * 10));
        return;
      }
      if (++state.failures < options.failures) return;
      open(state, options.coolDownMs);
      log.warn(`${modelOf(route)} failed ${state.failures} call${state.failures === 1 ? "" : "s"} in a row: the next model answers instead for ${options.coolDownMs / 1000} s, then one call tries it again`);
    },
    released(route, pass) {
      const state = routes.get(routeId(route));
      if (pass === "probe" && state) state.probing = false;
    },
    keyRefused(route, reason) {
      const id = routeId(route);
      if (routes.get(id)?.keyRefused) return;
      routes.set(id, { failures: 0, coolDownMs: options.coolDownMs, probing: false, openUntil: Number.POSITIVE_INFINITY, keyRefused: true });
      log.warn(`${reason}; the next model answers its calls for the rest of the run`);
    },
  };
}
