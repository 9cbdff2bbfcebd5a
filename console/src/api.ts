/**
 * The console's only way to the server: the public HTTP API (`/v1/...`,
 * `/metrics`). What the console can do, any client can do.
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

async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
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

/**
 * Executions counted by status, from the Prometheus gauge `cadenza_executions{kind,status}`
 * of `/metrics`: the API has no count endpoint, and this one is read from the store at each
 * scrape, so it covers every execution, not just the page shown.
 */
export async function countsByStatus(kinds: string[]): Promise<Map<string, number>> {
  const text = await getText("/metrics");
  const counts = new Map<string, number>();
  const line = /^cadenza_executions\{([^}]*)\}\s+([0-9.eE+-]+)$/;
  for (const row of text.split("\n")) {
    const found = line.exec(row.trim());
    if (!found) continue;
    const labels = Object.fromEntries(
      [...found[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (kinds.length && !kinds.includes(labels.kind)) continue;
    const status = labels.status ?? "?";
    counts.set(status, (counts.get(status) ?? 0) + Number(found[2]));
  }
  return counts;
}
