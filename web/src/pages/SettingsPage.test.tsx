import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ApiToken } from "../api/types";
import { Route, Routes } from "react-router";
import { RequireLogin } from "../auth/session";
import { fakeServer, page, renderPage } from "../test/render";
import { SettingsPage } from "./SettingsPage";

afterEach(() => vi.unstubAllGlobals());

const me = { id: "u-1", email: "ada@lab.org", role: "user", is_active: true, is_superuser: false, is_verified: true, deleted_at: null, groups: [], projects: [] };

function token(name: string, revoked = false): ApiToken {
  return { id: `t-${name}`, name, prefix: "swt_abcd", created_at: "2026-01-01T00:00:00Z", expires_at: null, last_used_at: null, revoked_at: revoked ? "2026-02-01T00:00:00Z" : null };
}

describe("SettingsPage", () => {
  it("creates a token, shows it once, and revokes tokens", async () => {
    let tokens = [token("old")];
    const calls = fakeServer((call) => {
      if (call.url.pathname === "/api/me") return { json: me };
      if (call.url.pathname === "/api/tokens" && call.method === "GET") return { json: page(tokens) };
      if (call.url.pathname === "/api/tokens" && call.method === "POST") {
        tokens = [...tokens, token("notebook")];
        return { status: 201, json: { ...token("notebook"), token: "swt_secret-value" } };
      }
      if (call.method === "DELETE") {
        tokens = [token("old", true), token("notebook")];
        return { status: 204 };
      }
      return undefined;
    });
    renderPage(<SettingsWithUser />);
    await userEvent.type(await screen.findByLabelText(/^Token name/), "notebook");
    await userEvent.click(screen.getByRole("button", { name: "Create token" }));
    const dialog = await screen.findByRole("dialog", { name: "Your new API token" });
    expect(within(dialog).getByLabelText("New API token")).toHaveTextContent("swt_secret-value");
    expect(JSON.parse(String(calls.find((call) => call.method === "POST")?.body))).toEqual({ name: "notebook", expires_in_days: 90 });
    await userEvent.click(within(dialog).getByRole("button", { name: "Done" }));
    await vi.waitFor(() => expect(screen.queryByText("swt_secret-value")).not.toBeInTheDocument());

    await userEvent.click(await screen.findByRole("button", { name: "Revoke token old" }));
    expect(await screen.findByText(/^revoked/)).toBeInTheDocument();
    expect(calls.find((call) => call.method === "DELETE")?.url.pathname).toBe("/api/tokens/t-old");
  });

  it("checks that both new passwords match", async () => {
    const calls = fakeServer((call) => (call.url.pathname === "/api/me" ? { json: me } : { json: page([]) }));
    renderPage(<SettingsWithUser />);
    await userEvent.type(await screen.findByLabelText(/^New password/), "long-enough-1");
    await userEvent.type(screen.getByLabelText(/^Repeat the new password/), "long-enough-2");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("The two passwords differ")).toBeInTheDocument();
    expect(calls.some((call) => call.method === "PATCH")).toBe(false);
  });
});

function SettingsWithUser() {
  return (
    <Routes>
      <Route element={<RequireLogin />}>
        <Route path="/" element={<SettingsPage />} />
      </Route>
    </Routes>
  );
}
