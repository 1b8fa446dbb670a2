#!/usr/bin/env bun
// `map`: the task is scripts/_task-map.ts, loaded once scripts/_start.ts handles signals, so a Ctrl-C while it loads exits 130.
import { startTask } from "./_start.ts";

if (import.meta.main) await startTask("map", () => import("./_task-map.ts"));
