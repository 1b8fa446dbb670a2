import { SAError, isSAError } from "./errors.ts";
import { readRecords } from "./jsonl.ts";
import { parseService, type Service } from "./schema/service.ts";

/**
 * Reads a services file (JSONL or a JSON array) into services by id, for `map --service-file`.
 * A bad line is an error naming the file and the line: the records that need it cannot be mapped.
 */
export async function readServiceFile(path: string, onDropped?: (dropped: string[]) => void): Promise<Map<string, Service>> {
  try {
    return await readServices(path, onDropped);
  } catch (error) {
    // A file that cannot be read is named by its flag, not as the input (`--input` is another file).
    if (isSAError(error, "E_INPUT_UNREADABLE")) throw new SAError("E_INPUT_UNREADABLE", error.message.replace(/^input /, "--service-file "), { cause: error });
    throw error;
  }
}

async function readServices(path: string, onDropped?: (dropped: string[]) => void): Promise<Map<string, Service>> {
  const services = new Map<string, Service>();
  for await (const record of readRecords(path, { strictUtf8: true })) {
    if (record.error) throw new SAError("E_USAGE", `--service-file ${path}:${record.line}: ${record.error}`);
    const parsed = parseService(record.value);
    if (!parsed.ok) throw new SAError("E_USAGE", `--service-file ${path}:${record.line}: ${parsed.reason}`);
    onDropped?.(parsed.dropped);
    services.set(parsed.service.service_id, parsed.service);
  }
  return services;
}
