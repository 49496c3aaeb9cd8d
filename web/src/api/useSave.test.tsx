import { Button, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FormError } from "../components/States";
import { fakeServer, page, renderPage, type Call } from "../test/render";
import { api } from "./client";
import { createOrUpdate, useSave } from "./useSave";

afterEach(() => vi.unstubAllGlobals());

interface Thing {
  id: string;
  name: string;
}

const THINGS = "/api/things";

function Editor({ item, onSaved }: { item: Thing | null; onSaved: (saved: Thing) => void }) {
  const list = useQuery({ queryKey: [THINGS], queryFn: () => api.get<{ total: number }>(THINGS) });
  const save = useSave({ collection: THINGS, send: (name: string) => createOrUpdate<Thing>(THINGS, item, { name }), onSaved });
  return (
    <>
      <Text>{list.data ? `Things: ${list.data.total}` : "loading"}</Text>
      <FormError error={save.error} />
      <Button onClick={() => save.mutate("Spectrometer")} loading={save.isPending}>
        Save
      </Button>
    </>
  );
}

function server(status = 200) {
  let total = 0;
  return fakeServer((call: Call) => {
    if (call.method === "GET") return { json: page([], 0, 25, total) };
    if (status >= 400) return { status, json: { detail: "Name already taken" } };
    total += 1;
    return { status, json: { id: "t-1", name: "Spectrometer" } };
  });
}

describe("useSave", () => {
  it("creates, refreshes the collection, then hands the saved item on", async () => {
    const calls = server(201);
    const seenBySaved: string[] = [];
    const onSaved = vi.fn(() => seenBySaved.push(...calls.map((call) => call.method)));
    renderPage(<Editor item={null} onSaved={onSaved} />);
    expect(await screen.findByText("Things: 0")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await vi.waitFor(() => expect(onSaved).toHaveBeenCalledWith({ id: "t-1", name: "Spectrometer" }));
    expect(calls[1].method).toBe("POST");
    expect(calls[1].url.pathname).toBe(THINGS);
    expect(JSON.parse(String(calls[1].body))).toEqual({ name: "Spectrometer" });
    // The list was fetched again before the form moved on.
    expect(seenBySaved).toEqual(["GET", "POST", "GET"]);
    expect(screen.getByText("Things: 1")).toBeInTheDocument();
  });

  it("updates the item being edited", async () => {
    const calls = server();
    const onSaved = vi.fn();
    renderPage(<Editor item={{ id: "t-1", name: "Old" }} onSaved={onSaved} />);
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    const update = calls.find((call) => call.method !== "GET");
    expect(update?.method).toBe("PATCH");
    expect(update?.url.pathname).toBe(`${THINGS}/t-1`);
  });

  it("stays on the form with the server's reason when the save fails", async () => {
    const calls = server(409);
    const onSaved = vi.fn();
    renderPage(<Editor item={null} onSaved={onSaved} />);
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Name already taken");
    expect(onSaved).not.toHaveBeenCalled();
    expect(calls.filter((call) => call.method === "GET")).toHaveLength(1);
  });
});
