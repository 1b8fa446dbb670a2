#!/usr/bin/env bun
// `run`: the task is scripts/_task-run.ts, loaded from its precompiled bundle when fresh (scripts/_start.ts).
import { startTask } from "./_start.ts";

if (import.meta.main) await startTask("run", () => import("./_task-run.ts"));
