import type { Clock } from "./clock.ts";

export interface TokenBucket {
  /** Waits until `amount` may go out, in the order of asking. */
  take(amount: number): Promise<void>;
  /** After the fact: the call used `amount` more (or, negative, fewer) than it took. */
  adjust(amount: number): void;
  /** The pace from now on, as a share (0 < share ≤ 1) of `perMinute`. @default 1 */
  pace?(share: number): void;
  /** A request let go is sent again (after a 429): it is paid for again, as large as the last one let go. */
  resend?(): void;
}

/** One pending wake-up at a time: a newer one supersedes it (the older one still calls, harmlessly). */
function wakeUps(clock: Clock, fn: () => void) {
  let pending: object | undefined;
  return {
    get pending() {
      return pending !== undefined;
    },
    after(ms: number) {
      const mine = {};
      pending = mine;
      void clock.sleep(Math.max(1, ms)).then(() => {
        if (pending === mine) pending = undefined;
        fn();
      });
    },
    forget() {
      pending = undefined;
    },
  };
}

/**
 * An even pace of `perMinute` (GCRA with no burst: one time stands for the bucket, when
 * everything taken so far is paid for). Takers wait in line; the first goes as soon as the
 * bucket is paid up, so calls go out evenly spread and a minute's quota never leaves at once.
 * Tokens a call did not use come back at once to whoever waits. rate-limiter-flexible's fixed
 * windows waste what is left of a window when the next call is larger than the rest (with calls
 * of a few thousand tokens, a third of the TPM quota); here nothing is left over. Local to one
 * process: sharing through Redis keeps rate-limiter-flexible.
 */
export function createTokenBucket(options: { perMinute: number; clock: Clock }): TokenBucket {
  let msPerToken = 60_000 / options.perMinute;
  let paidUntil = 0;
  // Tokens reserved but not used come back as credit (up to half a second of the pace): calls
  // are often answered after their reservation has been paid off, so it cannot simply be undone.
  let creditCap = 500 / msPerToken;
  let credit = 0;
  let lastAmount = 0;
  const waiting: Array<{ amount: number; go: () => void }> = [];
  const wake = wakeUps(options.clock, () => pump());

  // Lets waiters go while the bucket is paid up, then sleeps until it next is.
  function pump() {
    for (let now = options.clock.now(); waiting.length > 0 && (paidUntil <= now || credit >= waiting[0]!.amount); now = options.clock.now()) {
      const next = waiting.shift()!;
      lastAmount = next.amount;
      const fromCredit = Math.min(credit, next.amount);
      credit -= fromCredit;
      paidUntil = Math.max(paidUntil, now) + (next.amount - fromCredit) * msPerToken;
      next.go();
    }
    if (waiting.length > 0 && !wake.pending) wake.after(paidUntil - options.clock.now());
  }
  return {
    take(amount) {
      return new Promise<void>((go) => {
        waiting.push({ amount, go });
        pump();
      });
    },
    adjust(amount) {
      const now = options.clock.now();
      if (amount >= 0) paidUntil = Math.max(paidUntil, now) + amount * msPerToken;
      else {
        // Paid off sooner; what reaches back past now is credit.
        const sooner = paidUntil + amount * msPerToken;
        credit = Math.min(creditCap, credit + Math.min(-amount, Math.max(0, now - sooner) / msPerToken));
        paidUntil = Math.max(now, sooner);
        wake.forget();
      }
      pump();
    },
    resend() {
      paidUntil = Math.max(paidUntil, options.clock.now()) + lastAmount * msPerToken;
    },
    pace(share) {
      msPerToken = 60_000 / (options.perMinute * share);
      creditCap = 500 / msPerToken;
      credit = Math.min(credit, creditCap);
    },
  };
}
