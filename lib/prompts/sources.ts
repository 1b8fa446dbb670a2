import { existsSync } from "node:fs";
import { join } from "node:path";
import { SAError, isSAError } from "../errors.ts";
import { readUtf8File } from "../utf8-text.ts";

/** The Python tool's defaults: `prompts/situational_context/university.md`, `prompts/inspirations/general.md`. */
export const promptDefaults = { promptDir: "prompts", contextId: "university", inspiration: "general" } as const;

export interface PromptSourceOptions {
  dataDir: string;
  /** Relative to the working directory, as the Python tool resolves it. */
  promptDir?: string;
  contextId?: string;
  inspiration?: string;
}

/** A text of the system prompt and the file it came from (null when there is none). */
export interface PromptText {
  text: string;
  file: string | null;
}

interface Kind {
  what: string;
  folder: string;
  dataFile: string;
  key: "contextId" | "inspiration";
}

const kinds = {
  situationalContext: { what: "situational context", folder: "situational_context", dataFile: "situational_context.md", key: "contextId" },
  inspirations: { what: "inspirations", folder: "inspirations", dataFile: "inspirations.md", key: "inspiration" },
} satisfies Record<string, Kind>;

/** A prompt file's text; one that cannot be read (a folder, no permission) is named with the reason. */
async function read(file: string): Promise<PromptText> {
  try {
    return { text: (await readUtf8File(file, ({ line, reason }) => new SAError("E_CONFIG", `prompt file ${file}:${line}: ${reason}`))).trim(), file };
  } catch (cause) {
    if (isSAError(cause)) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code === "EISDIR" ? "a folder, not a file" : (code ?? (cause as Error).message);
    throw new SAError("E_CONFIG", `prompt file ${file}: cannot be read (${reason})`, { cause });
  }
}

/**
 * One text. A file named by config, `SA_*` or a flag (its id, or the prompt folder) must exist.
 * When nothing is named: the data folder's file, else the Python default file, else none.
 */
async function resolveText(kind: Kind, options: PromptSourceOptions): Promise<PromptText> {
  const id = options[kind.key];
  const dir = options.promptDir ?? promptDefaults.promptDir;
  const promptFile = join(dir, kind.folder, `${id ?? promptDefaults[kind.key]}.md`);
  if (id !== undefined || options.promptDir !== undefined) {
    if (!existsSync(promptFile)) {
      const named = [id !== undefined ? `${kind.key} "${id}"` : "", options.promptDir !== undefined ? `promptDir "${options.promptDir}"` : ""].filter(Boolean).join(", ");
      throw new SAError("E_CONFIG", `prompt file ${promptFile}: not found (the ${kind.what} named by ${named})`);
    }
    return read(promptFile);
  }
  for (const file of [join(options.dataDir, kind.dataFile), promptFile]) if (existsSync(file)) return read(file);
  return { text: "", file: null };
}

/** The situational context and the inspirations for the system prompt. */
export async function loadPromptTexts(options: PromptSourceOptions): Promise<{ situationalContext: PromptText; inspirations: PromptText }> {
  return { situationalContext: await resolveText(kinds.situationalContext, options), inspirations: await resolveText(kinds.inspirations, options) };
}
