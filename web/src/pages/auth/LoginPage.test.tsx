import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeServer, renderPage } from "../../test/render";
import { LoginPage, safeNext } from "./LoginPage";

afterEach(() => vi.unstubAllGlobals());

describe("LoginPage", () => {
  it("asks for both fields before sending anything", async () => {
    const calls = fakeServer(() => undefined);
    renderPage(<LoginPage />, "/login");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByText("Enter your e-mail address")).toBeInTheDocument();
    expect(screen.getByText("Enter your password")).toBeInTheDocument();
    expect(calls).toHaveLength(0);
  });

  it("logs in with the cookie route and shows a wrong password as a sentence", async () => {
    const calls = fakeServer(() => ({ status: 400, json: { detail: "LOGIN_BAD_CREDENTIALS" } }));
    renderPage(<LoginPage />, "/login");
    await userEvent.type(screen.getByLabelText(/E-mail/), "ada@lab.org");
    await userEvent.type(screen.getByLabelText(/^Password/), "wrong");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/Wrong e-mail or password/);
    expect(calls[0].url.pathname).toBe("/auth/cookie/login");
    expect(String(calls[0].body)).toBe("username=ada%40lab.org&password=wrong");
  });

  it("only follows next= within the app", () => {
    expect(safeNext("/files/1")).toBe("/files/1");
    expect(safeNext("//evil.example")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});

describe("after login", () => {
  it("goes where the user was going", async () => {
    fakeServer((call) => (call.url.pathname === "/auth/cookie/login" ? { status: 204 } : undefined));
    renderPage(
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/settings" element={<p>the settings page</p>} />
      </Routes>,
      "/login?next=%2Fsettings",
    );
    await userEvent.type(screen.getByLabelText(/E-mail/), "ada@lab.org");
    await userEvent.type(screen.getByLabelText(/^Password/), "right");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByText("the settings page")).toBeInTheDocument();
  });
});
