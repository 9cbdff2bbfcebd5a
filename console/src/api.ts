/**
 * The console's only way to the server: the public HTTP API (`/v1/...`).
 * What the console can do, any client can do.
 */

const TOKEN_KEY = "cadenza.token";

/** The bearer token of this tab, if the user gave one (sessionStorage: gone when the tab closes). */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer of the API that is not a 2xx, with the API's own code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

/** Listeners told when the API answers 401: the page shows the login form. */
const unauthorizedListeners = new Set<() => void>();

export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function request(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
  etag?: string,
): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  if (etag) headers["if-none-match"] = etag;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    // A conditional request is ours to make: the browser's cache must not turn a 304 into a 200.
    cache: etag ? "no-store" : "default",
  });
  if (!response.ok && !(etag && response.status === 304)) {
    let code = "http.error";
    let message = `${method} ${path}: HTTP ${response.status}`;
    let details: unknown = null;
    try {
      const problem = (await response.json()) as { code?: string; message?: string; details?: unknown; problems?: unknown };
      code = problem.code ?? code;
      message = problem.message ?? message;
      details = problem.details ?? problem.problems ?? null;
    } catch {
      // Not JSON (a proxy's page): keep the status line.
    }
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
    throw new ApiError(response.status, code, message, details);
  }
  return response;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await request("GET", path, undefined, signal)).json()) as T;
}

/** Answers kept for conditional requests, by path: the API's ETag and the parsed body. */
const polled = new Map<string, { etag: string; value: unknown }>();
const POLLED_KEPT = 100;

/**
 * GET for pages that ask again and again (lists, counts, one execution): the
 * answer's ETag goes back as If-None-Match, and an unchanged answer is a 304
 * with no body. It resolves to the very object it resolved to last time, so
 * a component that keeps it re-renders nothing.
 */
export async function getPolled<T>(path: string, signal?: AbortSignal): Promise<T> {
  const kept = polled.get(path);
  const response = await request("GET", path, undefined, signal, kept?.etag);
  if (response.status === 304 && kept) return kept.value as T;
  const value = (await response.json()) as T;
  const etag = response.headers.get("etag");
  if (etag) {
    polled.delete(path);
    polled.set(path, { etag, value });
    if (polled.size > POLLED_KEPT) polled.delete(polled.keys().next().value as string);
  }
  return value;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return (await (await request("POST", path, body)).json()) as T;
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  return (await request("GET", path, undefined, signal)).text();
}

/** A query string from parameters; arrays repeat their name, empty values are left out. */
export function query(params: Record<string, string | number | string[] | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((item) => search.append(name, item));
    else search.append(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// --- the API's shapes (docs/reference/http-api.md) -----------------------------------

export interface Execution {
  id: string;
  definition_id: string;
  kind: string;
  name: string;
  status: string;
  created_at: number;
  updated_at: number;
  output: unknown;
  errors: unknown[];
  last_seq: number;
  final: boolean | null;
  settled: boolean | null;
  tags: string[];
}

export interface ExecutionCounts {
  counts: Record<string, number>;
  total: number;
}

export interface LostLease {
  execution_id: string;
  task_id: string;
  name: string | null;
  queue: string | null;
  lost: number;
  last_time: number;
}

export interface Poller {
  poller: string;
  description: string;
  last_poll: number;
}

export interface Queue {
  queue: string;
  tasks: Record<string, number>;
  last_poll: number | null;
  polled_recently: boolean;
  /** Who asked the queue for work in the last day, latest first. */
  pollers: Poller[];
}

export interface QueueList {
  recent: number;
  queues: Queue[];
}

export interface ExecutionList {
  executions: Execution[];
  next_cursor: string | null;
}

export interface Task {
  name: string;
  key: string;
  status: string;
}

export interface HistoryEvent {
  seq: number;
  decision: number;
  time: number;
  type: string;
  payload: Record<string, unknown>;
}

export interface HistoryPage {
  events: HistoryEvent[];
  next_after_seq: number | null;
}

export interface Definition {
  id: string;
  kind: string;
  name: string;
  version: number | string;
  created_at: number;
  source?: string;
  /**
   * The source read as data by the server (`GET .../document`), fetched for the
   * languages whose graph needs it: a state machine (JSON or YAML) and a trigger
   * set (as the triggers it compiles to). Null when not asked or not given.
   */
  document?: unknown;
}

/** Languages whose graph is drawn from the server's reading of the source. */
const READ_BY_SERVER = ["states", "triggers"];

/**
 * A definition with its source, and its document when its graph needs one.
 * Given the `kind` (an execution's page knows it), both are asked for at once.
 */
export async function loadDefinition(id: string, kind?: string, signal?: AbortSignal): Promise<Definition> {
  const path = `/v1/definitions/${encodeURIComponent(id)}`;
  // The graph is a convenience: a server without this view still shows the source.
  const readDocument = () => getJson<{ document: unknown }>(`${path}/document`, signal).catch(() => null);
  const early = kind !== undefined && READ_BY_SERVER.includes(kind) ? readDocument() : null;
  const definition = await getJson<Definition>(path, signal);
  if (!READ_BY_SERVER.includes(definition.kind)) return definition;
  const read = await (early ?? readDocument());
  return { ...definition, document: read?.document ?? null };
}

export interface Accepted {
  execution: Execution;
  refused: unknown;
}

/** Every recorded event of an execution, a page at a time. */
export async function fullHistory(executionId: string, signal?: AbortSignal): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let after: number | null = 0;
  while (after !== null) {
    const page: HistoryPage = await getJson<HistoryPage>(
      `/v1/executions/${encodeURIComponent(executionId)}/history${query({ after_seq: after, limit: 1000 })}`,
      signal,
    );
    events.push(...page.events);
    after = page.next_after_seq;
  }
  return events;
}
