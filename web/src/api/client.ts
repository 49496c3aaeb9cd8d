// The one way the UI talks to StreamWeave: same-origin fetch with the HttpOnly session
// cookie (never a token in storage), JSON in and out, errors turned into sentences.

export class ApiError extends Error {
  readonly status: number;
  readonly detail: unknown;

  constructor(status: number, message: string, detail: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

export interface Page<T> {
  items: T[];
  total: number;
  skip: number;
  limit: number;
}

// fastapi-users answers with codes; these are the sentences a person can act on.
const CODES: Record<string, string> = {
  LOGIN_BAD_CREDENTIALS: "Wrong e-mail or password. Check both, or reset your password.",
  LOGIN_USER_NOT_VERIFIED: "This account is not verified yet: follow the link in your e-mail.",
  RESET_PASSWORD_BAD_TOKEN:
    "This reset link is invalid or has expired. Ask for a new one from the login page.",
  VERIFY_USER_BAD_TOKEN: "This verification link is invalid or has expired.",
  VERIFY_USER_ALREADY_VERIFIED: "This account is already verified: you can log in.",
  REGISTER_USER_ALREADY_EXISTS: "An account with this e-mail already exists.",
  UPDATE_USER_EMAIL_ALREADY_EXISTS: "Another account already uses this e-mail.",
};

interface ValidationItem {
  loc?: (string | number)[];
  msg?: string;
}

function fieldName(loc: (string | number)[] | undefined): string {
  const parts = (loc ?? []).filter((part) => part !== "body" && part !== "query");
  return parts.join(".");
}

/** A sentence for whatever FastAPI put in ``detail``. */
export function describeDetail(status: number, detail: unknown): string {
  if (typeof detail === "string") {
    return CODES[detail] ?? detail;
  }
  if (Array.isArray(detail)) {
    const lines = (detail as ValidationItem[]).map((item) => {
      const field = fieldName(item.loc);
      const message = (item.msg ?? "is invalid").replace(/^Value error, /, "");
      return field ? `${field}: ${message}` : message;
    });
    return lines.join("; ") || "The request was not accepted; check the form.";
  }
  if (detail && typeof detail === "object") {
    const { code, reason } = detail as { code?: string; reason?: string };
    if (reason) return reason;
    if (code) return CODES[code] ?? code;
  }
  if (status === 401) return "Your session has ended: log in again.";
  if (status === 403) return "You do not have permission to do this.";
  if (status === 404) return "Not found: it does not exist or you may not see it.";
  if (status >= 500) {
    return `The server failed (HTTP ${status}). Try again; if it persists, tell your administrator.`;
  }
  return `The request failed (HTTP ${status}).`;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

interface RequestOptions {
  method?: string;
  query?: Query;
  json?: unknown;
  form?: Record<string, string>;
  signal?: AbortSignal;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = new URLSearchParams(options.form);
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method: options.method ?? (body ? "POST" : "GET"),
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "Cannot reach the StreamWeave server: check your network and retry.", null);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const detail = data && typeof data === "object" && "detail" in data ? data.detail : null;
    throw new ApiError(response.status, describeDetail(response.status, detail), detail);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) =>
    request<T>(path, { query, signal }),
  post: <T>(path: string, json?: unknown) => request<T>(path, { method: "POST", json }),
  patch: <T>(path: string, json: unknown) => request<T>(path, { method: "PATCH", json }),
  del: (path: string) => request<void>(path, { method: "DELETE" }),
};

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return "Something went wrong; try again.";
}
