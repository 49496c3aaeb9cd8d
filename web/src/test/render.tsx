import { QueryClient } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import { Providers } from "../Providers";

export function renderPage(ui: ReactElement, route = "/") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <Providers client={client}>
      <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
    </Providers>,
  );
}

export interface Call {
  method: string;
  url: URL;
  body: BodyInit | null | undefined;
}

type Handler = (call: Call) => { status?: number; json?: unknown } | undefined;

/** A stand-in for the server at the fetch boundary: records calls, answers from ``handler``. */
export function fakeServer(handler: Handler) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = { method: init?.method ?? "GET", url: new URL(String(input), "http://ui.test"), body: init?.body };
    calls.push(call);
    const answer = handler(call) ?? { status: 404, json: { detail: "Not Found" } };
    const status = answer.status ?? 200;
    const text = status === 204 || answer.json === undefined ? "" : JSON.stringify(answer.json);
    return new Response(status === 204 ? null : text, { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

export function page<T>(items: T[], skip = 0, limit = 25, total = items.length) {
  return { items, total, skip, limit };
}
