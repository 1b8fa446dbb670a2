export type StopSignal = "SIGINT" | "SIGTERM";
export const signalExitCode = (signal: StopSignal) => (signal === "SIGINT" ? 130 : 143);

/**
 * The first Ctrl-C (or SIGTERM) asks for a graceful stop; a second one exits at once.
 * Returns a function that removes the handlers.
 */
export function onStopSignal(handler: (signal: StopSignal) => void, exit: (code: number) => never = process.exit): () => void {
  let received = false;
  const listener = (signal: StopSignal) => {
    if (received) exit(signalExitCode(signal));
    received = true;
    handler(signal);
  };
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
  return () => {
    process.off("SIGINT", listener);
    process.off("SIGTERM", listener);
  };
}
