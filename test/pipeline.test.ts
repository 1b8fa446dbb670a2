import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { assignCode, featureCode } from "../lib/pipeline/feature-id.ts";
import { checkMapping } from "../lib/pipeline/mapping.ts";
import { runServices } from "../lib/pipeline/run.ts";
import { startTestServer, type ChatBody } from "../lib/test-server.ts";
import { makeServices, tempDir, testRuntime, writeJsonl } from "./helpers.ts";

const isStage = (b: ChatBody, name: string) => b.response_format?.json_schema?.name === name;

describe("feature ids", () => {
  // Expected ids computed once with Python's uuid and base64, as the Python tool computes them.
  const table: { name: string; role: string; plateau: string; feature_id: string }[] = JSON.parse(
    readFileSync(join(import.meta.dir, "..", "fixtures", "python", "feature-ids.json"), "utf8"),
  );
  test("the table holds at least 20 triples", () => expect(table.length).toBeGreaterThanOrEqual(20));
  test.each(table.map((row) => [JSON.stringify([row.name, row.role, row.plateau]), row] as const))("%s", (_label, row) => {
    expect(featureCode(row.plateau, row.role, row.name)).toBe(row.feature_id);
  });
  // Codes are hashed in a reused buffer; a name too long for it is hashed the plain way. Both pinned
  // to values computed before the buffer existed.
  test("long and multi-byte names: the same codes as before the reused buffer", () => {
    expect(featureCode("P", "r", "x".repeat(5000))).toBe("4GWVU6");
    expect(featureCode("P", "r", "é€😀".repeat(300))).toBe("JHKB6S");
  });
  test("collisions are resolved the same way every time, and only a collision changes an id", () => {
    const first = featureCode("P", "r", "n");
    expect(assignCode("P", "r", "n", new Set())).toBe(first);
    const run = () => {
      const taken = new Set([first]);
      return assignCode("P", "r", "n", taken);
    };
    expect(run()).not.toBe(first);
    expect(run()).toBe(run());
  });
});

describe("feature ids of a run", () => {
  test("a name the model pads with spaces: the id is Python's code of the name as written", async () => {
    const server = startTestServer({
      answer: (b) => {
        if (!isStage(b, "plateau_features")) return undefined;
        const feature = (role: string, name: string) => ({ role, name, description: `About ${name.trim()}.`, score: { level: 2, justification: "Seen." } });
        return JSON.stringify({ features: [feature("residents", "  Alpha hub "), feature("businesses", "Beta\n"), feature("council_staff", "Gamma")] });
      },
    });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
      await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(1)), output: join(dir, "out.jsonl") });
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8"));
      const written = line.plateaus.flatMap((p: any) => p.features.map((f: any) => ({ id: f.feature_id, code: featureCode(p.plateau_name, f.customer_type, f.name), name: f.name })));
      expect(written.map((f: any) => f.name)).toContain("Alpha hub");
      expect(written.filter((f: any) => f.id !== f.code)).toEqual([]);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("mapping check", () => {
  const catalogue = {
    field: "apps",
    label: "Apps",
    items: [{ id: "A1", name: "a", description: "" }, { id: "A2", name: "b", description: "" }],
    facets: [
      { id: "kind", type: "enum" as const, required: true, options: [{ id: "ui" }, { id: "api" }] },
      { id: "count", type: "integer" as const, required: false },
    ],
  };
  test("drops unknown ids and bad facets, and says why", () => {
    const result = checkMapping(
      { mappings: [
        { feature_id: "F1", items: [{ item: "A1", facets: { kind: "ui", count: null } }, { item: "A9", facets: { kind: "ui" } }, { item: "A2", facets: { kind: "batch" } }, { item: "A1", facets: { kind: "api" } }] },
        { feature_id: "F9", items: [] },
        { feature_id: "F2", items: [{ item: "A2", facets: { count: 3 } }] },
      ] },
      ["F1", "F2"],
      catalogue,
    );
    expect(result.value.mappings).toEqual([
      { feature_id: "F1", items: [{ item: "A1", facets: { kind: "ui" } }] },
      { feature_id: "F2", items: [] },
    ]);
    expect(result.problems).toHaveLength(4);
    expect(result.problems.join("\n")).toContain('unknown apps item "A9"');
    expect(result.problems.join("\n")).toContain('unknown feature_id "F9"');
    expect(result.problems.join("\n")).toMatch(/F1 → A2: facets\.kind/);
    expect(result.problems.join("\n")).toMatch(/F2 → A2: facets\.kind/);
  });

  test("keeps facets in the catalogue's order without nulls, and a rationale; an unknown or undefined facet is a problem", () => {
    const result = checkMapping(
      { mappings: [
        { feature_id: "F1", items: [{ item: "A1", rationale: "why", facets: { count: 2, kind: "api" } }, { item: "A2", facets: { kind: "ui", extra: 1 } }] },
        { feature_id: "F2", items: [{ item: "A1", facets: { kind: "ui", count: undefined } }, { item: "A2", facets: { kind: "ui", count: 1.5 } }] },
      ] } as never,
      ["F1", "F2"],
      catalogue,
    );
    expect(JSON.stringify(result.value.mappings)).toBe('[{"feature_id":"F1","items":[{"item":"A1","rationale":"why","facets":{"kind":"api","count":2}}]},{"feature_id":"F2","items":[]}]');
    expect(result.problems).toHaveLength(3);
    expect(result.problems.join("\n")).toContain("F1 → A2: facets.");
    expect(result.problems.join("\n")).toMatch(/F2 → A1: facets\.count/);
    expect(result.problems.join("\n")).toMatch(/F2 → A2: facets\.count/);
  });
});

describe("validation and re-ask", () => {
  test("features: a blank one is dropped after the re-ask, a repeated name is kept once, a role left out is a problem", async () => {
    const feature = (role: string, name: string) => ({ role, name, description: `About ${name}.`, score: { level: 2, justification: "Seen." } });
    const features = [feature("residents", "Alpha"), feature("residents", " alpha "), feature("businesses", "Beta"), feature("council_staff", "  "), feature("council_staff", "Gamma")];
    let first = true;
    const server = startTestServer({
      answer: (b) => {
        if (!isStage(b, "plateau_features")) return undefined;
        // The very first answer also leaves a role out.
        const answer = first ? features.filter((f) => f.role !== "businesses") : features;
        first = false;
        return JSON.stringify({ features: answer });
      },
    });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(1)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      const reasks = server.requests.filter((r) => r.body.messages.length === 4).map((r) => r.body.messages[3]!.content);
      expect(reasks).toHaveLength(5);
      expect(reasks.every((r) => r.includes('feature "" (council_staff) has a blank name, description or justification'))).toBe(true);
      expect(reasks.filter((r) => r.includes('justification; no features for role "businesses"'))).toHaveLength(1);
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8"));
      expect(line.plateaus[0].features.map((f: { name: string }) => f.name)).toEqual(["Beta", "Gamma", "Alpha"]);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("an invalid answer is asked for again once, with the reason", async () => {
    let broken = 0;
    const server = startTestServer({ answer: (b) => (isStage(b, "plateau_features") && broken++ === 0 ? '{"features": "nope"}' : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(1)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      expect(server.requests.length).toBe(22);
      const reask = server.requests.find((r) => r.body.messages.length === 4)!;
      expect(reask.body.messages[2]!.content).toBe('{"features": "nope"}');
      expect(reask.body.messages[3]!.content).toContain("failed validation: features");
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  const quarantined = (dir: string) =>
    readdirSync(join(dir, ".sa/quarantine")).flatMap((file) => readFileSync(join(dir, ".sa/quarantine", file), "utf8").trim().split("\n").map((l) => JSON.parse(l)));
  const lines = (dir: string) => readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

  test("an answer invalid twice is quarantined and its part left empty: the service is written naming the gap, the run goes on", async () => {
    const server = startTestServer({ answer: (b) => (isStage(b, "plateau_descriptions") && b.messages[1]!.content.includes("SVC002") ? "not json" : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(3)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      expect(summary.exitCode).toBe(0);
      expect(summary.services).toEqual({ total: 3, ok: 3, failed: 0, skipped: 0, redone: 0, incomplete: 1 });
      const written = lines(dir);
      expect(written.map((l) => l.service.service_id)).toEqual(["SVC001", "SVC002", "SVC003"]);
      const gap = written[1];
      expect(gap.meta.models.incomplete).toBe("descriptions");
      expect(gap.meta.models.descriptions).toBeUndefined();
      expect(gap.plateaus.every((p: { service_description: string }) => p.service_description === "")).toBe(true);
      expect(written[0].meta.models.incomplete).toBeUndefined();
      // Asked, then asked again once with the reason; the second answer is quarantined.
      const asked = server.requests.filter((r) => isStage(r.body, "plateau_descriptions") && r.body.messages[1]!.content.includes("SVC002"));
      expect(asked).toHaveLength(2);
      expect(quarantined(dir).some((e) => e.kind === "answer" && e.serviceId === "SVC002" && e.reason.includes("not JSON"))).toBe(true);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("descriptions left empty: no features or mapping call is paid for on an empty description, and the rerun pays once for the service", async () => {
    let broken = true;
    const isSvc2 = (b: ChatBody) => b.messages.some((m) => m.content.includes("SVC002") || m.content.includes("Service 2\n"));
    const server = startTestServer({ answer: (b) => (broken && isStage(b, "plateau_descriptions") && isSvc2(b) ? "not json" : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const output = join(dir, "out.jsonl");
      const first = await testRuntime(dir, { baseURL: server.url });
      const summary = await runServices(first, { input, output });
      await first.close();
      expect(summary.services).toMatchObject({ ok: 2, incomplete: 1 });
      // The descriptions call and its re-ask, nothing more: features asked on an empty description
      // would be thrown away by the rerun, whose new description changes every later prompt.
      expect(server.requests.filter((r) => isSvc2(r.body)).map((r) => r.body.response_format?.json_schema?.name)).toEqual(["plateau_descriptions", "plateau_descriptions"]);
      const gap = lines(dir)[1];
      expect(gap.meta.models.incomplete).toBe("descriptions");
      expect(gap.plateaus.every((p: { features: unknown[] }) => p.features.length === 0)).toBe(true);

      broken = false;
      const before = server.requests.length;
      const again = await testRuntime(dir, { baseURL: server.url });
      const rerun = await runServices(again, { input, output });
      await again.close();
      expect(rerun.services).toMatchObject({ ok: 1, skipped: 1, incomplete: 0 });
      const perService = 1 + gap.plateaus.length * (1 + Object.keys(lines(dir)[0].plateaus[0].mappings).length);
      expect(server.requests.length - before).toBe(perService);
      expect(lines(dir)[1].meta.models.incomplete).toBeUndefined();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("a mapping left empty fails the run under --strict, and a rerun asks only that call again and completes the line", async () => {
    let broken = true;
    const server = startTestServer({ answer: (b) => (broken && isStage(b, "applications_mapping") && b.messages.some((m) => m.content.includes("Service: Service 1\n")) ? '{"mappings": "none"}' : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const output = join(dir, "out.jsonl");
      const first = await testRuntime(dir, { baseURL: server.url });
      const summary = await runServices(first, { input, output, strict: true });
      await first.close();
      expect(summary.exitCode).toBe(1);
      expect(summary.services.incomplete).toBe(1);
      const gap = lines(dir)[0];
      const plateaus: { plateau_name: string; features: { mappings: Record<string, unknown[]> }[] }[] = gap.plateaus;
      expect(gap.meta.models.incomplete).toBe(plateaus.map((p) => `mapping ${p.plateau_name} applications`).sort().join(", "));
      expect(plateaus.every((p) => p.features.every((f) => (f.mappings.applications ?? []).length === 0))).toBe(true);
      expect(plateaus.some((p) => p.features.some((f) => (f.mappings.technologies ?? []).length > 0))).toBe(true);

      broken = false;
      const before = server.requests.length;
      const again = await testRuntime(dir, { baseURL: server.url });
      const rerun = await runServices(again, { input, output, strict: true });
      await again.close();
      expect(rerun.exitCode).toBe(0);
      expect(rerun.services).toMatchObject({ ok: 1, skipped: 1, incomplete: 0 });
      // Only the calls left empty are asked again: one applications mapping per plateau.
      const asked = server.requests.slice(before);
      expect(asked.length).toBe(plateaus.length);
      expect(asked.every((r) => isStage(r.body, "applications_mapping"))).toBe(true);
      const done = lines(dir);
      expect(done).toHaveLength(2);
      expect(done[0].meta.models.incomplete).toBeUndefined();
      expect(done[0].plateaus.some((p: (typeof plateaus)[number]) => p.features.some((f) => (f.mappings.applications ?? []).length > 0))).toBe(true);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("features that still leave a role out after the re-ask are kept, named as a gap (--strict fails), and a rerun asks again", async () => {
    let broken = true;
    const server = startTestServer({
      answer: (b) => {
        if (!broken || !isStage(b, "plateau_features") || !b.messages[1]!.content.includes("SVC001")) return undefined;
        const feature = (role: string, name: string) => ({ role, name, description: `About ${name}.`, score: { level: 2, justification: "Seen." } });
        return JSON.stringify({ features: [feature("residents", "Alpha"), feature("council_staff", "Gamma")] });
      },
    });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const output = join(dir, "out.jsonl");
      const first = await testRuntime(dir, { baseURL: server.url });
      const summary = await runServices(first, { input, output, strict: true });
      await first.close();
      expect(summary.exitCode).toBe(1);
      expect(summary.services).toMatchObject({ ok: 2, incomplete: 1 });
      const [short, whole] = lines(dir);
      const names: string[] = short.plateaus.map((p: { plateau_name: string }) => p.plateau_name);
      expect(short.meta.models.incomplete).toBe(names.map((n) => `features ${n}`).sort().join(", "));
      // What the model gave is kept: two roles' features at every plateau, none for the third.
      expect(short.plateaus.every((p: { features: { customer_type: string }[] }) => p.features.length === 2 && p.features.every((f) => f.customer_type !== "businesses"))).toBe(true);
      expect(whole.meta.models.incomplete).toBeUndefined();

      broken = false;
      const before = server.requests.length;
      const again = await testRuntime(dir, { baseURL: server.url });
      const rerun = await runServices(again, { input, output, strict: true });
      await again.close();
      expect(rerun.exitCode).toBe(0);
      expect(rerun.services).toMatchObject({ ok: 1, skipped: 1, incomplete: 0 });
      // The other service is not asked again, nor SVC001's descriptions.
      const asked = server.requests.slice(before);
      expect(asked.filter((r) => isStage(r.body, "plateau_features"))).toHaveLength(names.length);
      expect(asked.some((r) => isStage(r.body, "plateau_descriptions"))).toBe(false);
      const done = lines(dir)[0];
      expect(done.meta.models.incomplete).toBeUndefined();
      expect(done.plateaus.every((p: { features: { customer_type: string }[] }) => p.features.some((f) => f.customer_type === "businesses"))).toBe(true);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("a provider failure still fails its service (exit 1), unlike an invalid answer", async () => {
    const server = startTestServer({ fault: (_n, b) => (isStage(b, "plateau_descriptions") && b.messages[1]!.content.includes("SVC002") ? { type: "500" as const } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(3)), output: join(dir, "out.jsonl") });
      expect(summary.exitCode).toBe(1);
      expect(summary.services).toMatchObject({ ok: 2, failed: 1, incomplete: 0 });
      expect(summary.failures[0]).toMatchObject({ serviceId: "SVC002", stage: "descriptions" });
      expect(lines(dir).map((l) => l.service.service_id)).toEqual(["SVC001", "SVC003"]);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("a facet violation is quarantined and the rest kept; --strict fails the run", async () => {
    // Every technologies answer names an unknown item and breaks an enum facet.
    const answer = (b: ChatBody) => {
      if (b.response_format?.json_schema?.name !== "technologies_mapping") return undefined;
      const ids = [...b.messages[1]!.content.matchAll(/^- ([0-9A-Z]{6}):/gm)].map((m) => m[1]);
      return JSON.stringify({ mappings: ids.map((id) => ({ feature_id: id, items: [
        { item: "TEC001", facets: { placement: "cloud", managed_service: true, adoption_share: null } },
        { item: "TEC002", facets: { placement: "moon", managed_service: true, adoption_share: null } },
        { item: "NOPE", facets: { placement: "cloud", managed_service: false, adoption_share: null } },
      ] })) });
    };
    for (const strict of [false, true]) {
      const server = startTestServer({ answer });
      const { dir, cleanup } = tempDir();
      try {
        const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
        const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(1)), output: join(dir, "out.jsonl"), strict });
        expect(summary.services.ok).toBe(1);
        expect(summary.quarantined).toBe(5);
        expect(summary.status).toBe(strict ? "failed" : "ok");
        const evolution = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8"));
        const items = evolution.plateaus.flatMap((p: { features: { mappings: { technologies: { item: string }[] } }[] }) => p.features.flatMap((f) => f.mappings.technologies.map((m) => m.item)));
        expect(new Set(items)).toEqual(new Set(["TEC001"]));
        await rt.close();
      } finally {
        cleanup();
        await server.stop();
      }
    }
  });
});

describe("answer validation", () => {
  test("a JSON answer wrapped in a Markdown fence is read; anything else that is not JSON is not", async () => {
    const { validateAnswer } = await import("../lib/call-spec.ts");
    const { z } = await import("zod");
    const spec = { task: "t", stage: "features" as const, serviceId: "S", priority: 0, messages: [], schema: z.object({ a: z.number() }), schemaName: "x" };
    expect(validateAnswer(spec, '```json\n{"a": 1}\n```')).toEqual({ ok: true, value: { a: 1 }, problems: [] });
    expect(validateAnswer(spec, '{"a": 2}')).toEqual({ ok: true, value: { a: 2 }, problems: [] });
    expect(validateAnswer(spec, "sure! here it is").ok).toBe(false);
    expect(validateAnswer(spec, '{"a": "x"}')).toMatchObject({ ok: false, reason: expect.stringContaining("a:") });
  });
});
