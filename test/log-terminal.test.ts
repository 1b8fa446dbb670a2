import { describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLog } from "../lib/log.ts";

/** A stream that keeps what the log wrote. */
function capture() {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

describe("log lines on a terminal", () => {
  test("a control character or bidi override from the input (a service id, a model's words) shows as an escape; line breaks and tabs stay", () => {
    const out = capture();
    const log = createLog({}, out.stream);
    log.warn("service \x1b[2J\x1b[31mX failed\rfake ✔ ok\tnext\nsecond line", { serviceId: "S\u202eEVIL\x07" });
    const text = out.text();
    expect(text).not.toContain("\x1b");
    expect(text).not.toContain("\r");
    expect(text).not.toContain("\u202e");
    expect(text).not.toContain("\x07");
    expect(text).toBe("⚠ [S\\u202eEVIL\\u0007] service \\u001b[2J\\u001b[31mX failed\\rfake ✔ ok\tnext\nsecond line\n");
  });

  test("the JSON log keeps the text as it is, escaped by JSON", () => {
    const out = capture();
    const log = createLog({ format: "json" }, out.stream);
    log.warn("a \x1b[2J b");
    expect(JSON.parse(out.text()).message).toBe("a \x1b[2J b");
  });
});
