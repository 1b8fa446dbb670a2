#!/usr/bin/env bun
/**
 * What any cached rerun must do in one thread, whatever its design: read and parse every cache
 * entry (as a run does, synchronously), then serialise and write every output line. Times the two
 * in this process (start-up left out) and prints them. Reads the lines of a rerun's output to
 * have the objects to write (not timed), and writes them to a scratch file beside it.
 *
 *   bun bench/cached-floor.ts .sa/cache rerun.jsonl
 */
import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

const [base = ".sa/cache", output = "rerun.jsonl"] = process.argv.slice(2);
const files = readdirSync(base, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => join(entry.parentPath, entry.name));
const lines = readFileSync(output, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as unknown);

let started = performance.now();
let parsed = 0;
for (const file of files) if (JSON.parse(readFileSync(file, "utf8")) !== null) parsed++;
const readParseMs = performance.now() - started;

const scratch = `${output}.floor`;
started = performance.now();
const fd = openSync(scratch, "w");
for (const line of lines) writeSync(fd, `${JSON.stringify(line)}\n`);
closeSync(fd);
const writeMs = performance.now() - started;
rmSync(scratch);

process.stdout.write(`${JSON.stringify({ entries: parsed, lines: lines.length, readParseMs, writeMs })}\n`);
