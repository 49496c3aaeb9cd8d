import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeServer } from "../test/render";
import { api, ApiError, describeDetail, request, withQuery } from "./client";

afterEach(() => vi.unstubAllGlobals());

describe("describeDetail", () => {
  it("turns fastapi-users codes into sentences", () => {
    expect(describeDetail(400, "LOGIN_BAD_CREDENTIALS")).toMatch(/Wrong e-mail or password/);
  });
  it("keeps the server's own sentences", () => {
    expect(describeDetail(409, "storage location 'x' is disabled")).toBe("storage location 'x' is disabled");
  });
  it("names the fields of a validation error", () => {
    const detail = [
      { loc: ["body", "name"], msg: "String should have at least 1 character" },
      { loc: ["query", "limit"], msg: "Value error, too big" },
    ];
    expect(describeDetail(422, detail)).toBe("name: String should have at least 1 character; limit: too big");
  });
  it("uses the reason of a structured error", () => {
    expect(describeDetail(400, { code: "RESET_PASSWORD_INVALID_PASSWORD", reason: "too short" })).toBe("too short");
  });
  it("says what to do when there is no detail", () => {
    expect(describeDetail(401, null)).toMatch(/log in again/);
    expect(describeDetail(502, null)).toMatch(/HTTP 502.*Try again/);
  });
});

describe("withQuery", () => {
  it("leaves out empty values and encodes the rest", () => {
    expect(withQuery("/api/files", { path_prefix: "a b/", instrument_id: "", skip: 0, x: undefined })).toBe(
      "/api/files?path_prefix=a+b%2F&skip=0",
    );
  });
});

describe("request", () => {
  it("sends JSON with the session cookie and returns the answer", async () => {
    const calls = fakeServer(() => ({ status: 201, json: { id: "1" } }));
    await expect(api.post("/api/tokens", { name: "n" })).resolves.toEqual({ id: "1" });
    expect(calls[0].method).toBe("POST");
    expect(calls[0].body).toBe('{"name":"n"}');
    const init = vi.mocked(fetch).mock.calls[0][1];
    expect(init?.credentials).toBe("same-origin");
  });
  it("sends forms url-encoded (the login)", async () => {
    const calls = fakeServer(() => ({ status: 204 }));
    await request("/auth/cookie/login", { method: "POST", form: { username: "a@b.c", password: "p&q" } });
    expect(String(calls[0].body)).toBe("username=a%40b.c&password=p%26q");
  });
  it("raises an ApiError with a sentence for an error answer", async () => {
    fakeServer(() => ({ status: 400, json: { detail: "LOGIN_BAD_CREDENTIALS" } }));
    const error = await request("/auth/cookie/login", { method: "POST" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).message).toMatch(/Wrong e-mail or password/);
  });
  it("says the server cannot be reached when fetch fails", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    await expect(api.get("/api/me")).rejects.toThrow(/Cannot reach the StreamWeave server/);
  });
});
