import { z } from "zod";
import { evolutionSchema, featureSchema, roleOf, type Feature, type ServiceEvolution } from "../schema/evolution.ts";
import { parseService, serviceSchema, type Service } from "../schema/service.ts";
import { isRecord } from "../is-record.ts";
import { formatIssues } from "../zod-error.ts";

const plateauFeatureSchema = featureSchema.extend({ plateau: z.number().int().positive().optional(), plateau_name: z.string().optional() });

/** `{service, features[]}`: features with the plateau they belong to (level and/or name). */
export const featureRecordSchema = z.looseObject({
  service: serviceSchema,
  features: z.array(plateauFeatureSchema),
});

/**
 * The Python tool's lean feature record: one plateau's features for a service named by id, whose
 * details come from `--service-file`.
 */
export const leanRecordSchema = z.looseObject({
  service_id: z.string().min(1),
  plateau: z.number().int().positive().optional(),
  plateau_name: z.string().optional(),
  service_description: z.string().optional(),
  features: z.array(featureSchema),
});

type FeatureRecord = z.infer<typeof featureRecordSchema> & { descriptions?: Record<number, string> };
export type MapInput = { kind: "evolution"; evolution: ServiceEvolution } | { kind: "features"; record: FeatureRecord };

export interface MapInputContext {
  plateauNames: Map<number, string>;
  /** Services by id, from `--service-file`, for lean records. */
  services?: Map<string, Service>;
  /** Told the keys dropped from a service so that the output validates. */
  onDropped?: (dropped: string[]) => void;
}

type Parsed = { ok: true; item: MapInput; serviceId: string } | { ok: false; reason: string };

/** A feature record's plateau level: its own, or the level of its known plateau name. */
export const levelOf = (f: { plateau?: number; plateau_name?: string }, plateauNames: Map<number, string>) =>
  f.plateau ?? [...plateauNames].find(([, name]) => name === f.plateau_name)?.[0];


/** The first feature with no role (the Python tool's model needs a `customer_type`), as a reason. */
function missingRole(features: Feature[], path: string): string | undefined {
  const i = features.findIndex((f) => !roleOf(f));
  return i < 0 ? undefined : `${path}${i}.customer_type: a feature needs its role (customer_type or role.role_id)`;
}

/** The service of an input line, normalised as `run` normalises its input. */
function cleanService(value: unknown, ctx: MapInputContext): { ok: true; service: Service } | { ok: false; reason: string } {
  const parsed = parseService(value);
  if (!parsed.ok) return { ok: false, reason: `service.${parsed.reason}` };
  ctx.onDropped?.(parsed.dropped);
  return parsed;
}

function parseEvolution(value: unknown, ctx: MapInputContext): Parsed {
  const parsed = evolutionSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: formatIssues(parsed.error) };
  for (const [i, p] of parsed.data.plateaus.entries()) {
    const reason = missingRole(p.features, `plateaus.${i}.features.`);
    if (reason) return { ok: false, reason };
  }
  const service = cleanService((value as { service: unknown }).service, ctx);
  if (!service.ok) return service;
  return { ok: true, item: { kind: "evolution", evolution: { ...parsed.data, service: service.service } }, serviceId: service.service.service_id };
}

/** A lean record as a feature record: its service from `--service-file`, its one plateau. */
function parseLean(value: unknown, ctx: MapInputContext): Parsed {
  const parsed = leanRecordSchema.safeParse(value);
  // A services line (run's input, given to map by mistake) is said as such, not as a feature's missing score.
  if (!parsed.success && serviceSchema.safeParse(value).success) return { ok: false, reason: "a service (run's input), not an evolution or a feature record: map reads what run wrote (run it first)" };
  if (!parsed.success) return { ok: false, reason: formatIssues(parsed.error) };
  const { service_id, features, service_description } = parsed.data;
  const reason = missingRole(features, "features.");
  if (reason) return { ok: false, reason };
  if (!ctx.services) return { ok: false, reason: `service_id: "${service_id}": a lean feature record takes its service's details from --service-file, and none was given` };
  const service = ctx.services.get(service_id);
  if (!service) return { ok: false, reason: `service_id: "${service_id}" is not in --service-file (a lean feature record takes the service's details from there)` };
  const level = parsed.data.plateau ?? 1;
  const plateau_name = parsed.data.plateau_name || ctx.plateauNames.get(level) || `Plateau ${level}`;
  const record: FeatureRecord = {
    service,
    features: features.map((f) => ({ ...f, plateau: level, plateau_name })),
    descriptions: { [level]: service_description || service.description },
  };
  return { ok: true, item: { kind: "features", record }, serviceId: service_id };
}

function parseFeatureRecord(value: unknown, ctx: MapInputContext): Parsed {
  const parsed = featureRecordSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: formatIssues(parsed.error) };
  for (const [i, f] of parsed.data.features.entries()) {
    if (levelOf(f, ctx.plateauNames) === undefined) return { ok: false, reason: `features.${i}.plateau: a plateau level or a known plateau_name is needed` };
  }
  const reason = missingRole(parsed.data.features, "features.");
  if (reason) return { ok: false, reason };
  const service = cleanService((value as { service: unknown }).service, ctx);
  if (!service.ok) return service;
  return { ok: true, item: { kind: "features", record: { ...parsed.data, service: service.service } }, serviceId: service.service.service_id };
}

/**
 * An evolution (ours or the Python tool's), a feature record `{service, features[]}`, or the
 * Python tool's lean record `{service_id, plateau, plateau_name, service_description, features[]}`;
 * anything else is a bad line.
 */
export function parseMapInput(value: unknown, ctx: MapInputContext): Parsed {
  if (isRecord(value) && "plateaus" in value) return parseEvolution(value, ctx);
  if (isRecord(value) && !("service" in value) && "service_id" in value) return parseLean(value, ctx);
  return parseFeatureRecord(value, ctx);
}
