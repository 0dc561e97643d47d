// Open Runtimes adapter for Deno (Deno.serve, so >= 1.35; built for Deno 2): speaks the v5
// executor wire (or v2 when INTERNAL_RUNTIME_KEY is set) and runs the user's function. The contract
// itself is runtimes/node/core.mjs, shared with the Node.js adapter; this file supplies what is
// Deno's own: Deno.serve, files and loading the user's module. No remote imports, so it starts
// offline. Spec: docs/runtime-contract.md.

import { pathToFileURL } from "node:url";
import { createAdapter, STARTED_LINE } from "../node/core.mjs";

// deno-lint-ignore no-explicit-any
type Any = any;
interface Output {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Uint8Array;
}

function syntaxError(err: unknown): string | null {
  // Deno reports parse failures of imported modules as a plain Error mentioning the parser
  const isSyntax = err instanceof SyntaxError ||
    (err instanceof Error && /could not be parsed|Expected .* got|Unexpected token|Unterminated/i.test(err.message));
  return isSyntax ? (err as Error).message.replace(/^SyntaxError: /, "") : null;
}

const platform = {
  env: (name: string) => Deno.env.get(name),
  envObject: () => Deno.env.toObject(),
  defaultEntrypoint: "mod.ts",
  entryFile: (codeDir: string, entrypoint: string) => entrypoint.startsWith("/") ? entrypoint : `${codeDir}/${entrypoint}`,
  isFile(file: string): boolean {
    try {
      return Deno.statSync(file).isFile;
    } catch {
      return false;
    }
  },
  importModule: (file: string) => import(pathToFileURL(file).href),
  syntaxError,
  mkdirs: (dir: string) => Deno.mkdirSync(dir, { recursive: true }),
  appendLog: (file: string, text: string) => Deno.writeTextFileSync(file, text, { append: true }),
  randomBytes: (n: number) => crypto.getRandomValues(new Uint8Array(n)),
};

// Reads the whole body, or null past the limit (still draining so the connection stays usable).
async function readBody(req: Request, maxBodyBytes: number): Promise<Uint8Array | null> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > maxBodyBytes) tooLarge = true;
    else chunks.push(chunk);
  }
  if (tooLarge) return null;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function toResponse(output: Output): Response {
  const headers = new Headers();
  for (const [key, value] of Object.entries(output.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else headers.set(key, value);
  }
  const payload = NULL_BODY_STATUS.has(output.statusCode) ? null : output.body as unknown as BodyInit;
  return new Response(payload, { status: output.statusCode, headers });
}

function start(): void {
  const adapter: Any = createAdapter(platform);
  const { config, nativeConsole } = adapter;
  adapter.captureNativeLogs();
  // A stray error from a function's timer or promise must not take the warm instance down.
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    nativeConsole.error(event.error);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    nativeConsole.error(event.reason);
  });

  Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: () => nativeConsole.log(STARTED_LINE),
  }, async (req) => {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    req.headers.forEach((value, key) => {
      headers[key] = value;
    });
    try {
      return await adapter.handle({
        method: req.method,
        target: url.pathname + url.search,
        headers,
        readBody: () => readBody(req, config.maxBodyBytes),
        reply: toResponse,
      });
    } catch (err) {
      nativeConsole.error(err);
      return toResponse(adapter.plainOutput(500, ""));
    }
  });
}

start();
