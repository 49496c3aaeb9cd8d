import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FileRecord } from "../api/types";
import { fakeServer, page, renderPage } from "../test/render";
import { fileQuery, FilesPage } from "./FilesPage";

afterEach(() => vi.unstubAllGlobals());

function file(index: number): FileRecord {
  return {
    id: `00000000-0000-0000-0000-${String(index).padStart(12, "0")}`,
    persistent_id: `ark:/99999/fk4file${index}`,
    persistent_id_type: "ark",
    instrument_id: "i-1",
    source_path: `run/${index}.fid`,
    filename: `${index}.fid`,
    size_bytes: 2048,
    source_mtime: null,
    xxhash: null,
    sha256: null,
    md5: null,
    first_discovered_at: "2026-03-01T10:00:00Z",
    updated_at: "2026-03-01T10:00:00Z",
    source_deleted_at: null,
    current_version: 1,
    metadata_: {},
    owner_id: null,
  };
}

const instruments = page([{ id: "i-1", name: "NMR 600" }]);

describe("fileQuery", () => {
  it("sends only the filters given, dates as whole UTC days", () => {
    expect(
      fileQuery({
        instrument_id: "",
        path_prefix: " run/ ",
        metadata_key: "",
        metadata_value: "",
        discovered_after: "2026-03-01",
        discovered_before: "2026-03-02",
        persistent_id: "",
      }),
    ).toEqual({
      path_prefix: "run/",
      discovered_after: "2026-03-01T00:00:00Z",
      discovered_before: "2026-03-02T23:59:59.999999Z",
    });
  });
});

describe("FilesPage", () => {
  it("shows one server page and asks the server for the next", async () => {
    const calls = fakeServer((call) => {
      if (call.url.pathname === "/api/instruments") return { json: instruments };
      if (call.url.pathname === "/api/files") {
        const skip = Number(call.url.searchParams.get("skip"));
        return { json: page([file(skip + 1), file(skip + 2)], skip, 25, 60) };
      }
      return undefined;
    });
    renderPage(<FilesPage />, "/files");
    const table = await screen.findByRole("table", { name: "Files" });
    expect(within(table).getByRole("link", { name: "1.fid" })).toHaveAttribute("href", `/files/${file(1).id}`);
    expect(await within(table).findAllByText("NMR 600")).toHaveLength(2);
    expect(screen.getByText("1–2 of 60")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Page 2" }));
    expect(await screen.findByRole("link", { name: "26.fid" })).toBeInTheDocument();
    const fileCalls = calls.filter((call) => call.url.pathname === "/api/files");
    expect(fileCalls.at(-1)?.url.searchParams.get("skip")).toBe("25");
    expect(fileCalls.at(-1)?.url.searchParams.get("limit")).toBe("25");
  });

  it("searches on the server and starts again from the first page", async () => {
    const calls = fakeServer((call) => {
      if (call.url.pathname === "/api/instruments") return { json: instruments };
      if (call.url.pathname === "/api/files") return { json: page([], 0, 25, 0) };
      return undefined;
    });
    renderPage(<FilesPage />, "/files");
    expect(await screen.findByText("No files found")).toBeInTheDocument();
    expect(screen.getByText(/You have no files yet/)).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("ARK"), "ark:/99999/fk4abc");
    await userEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(await screen.findByText(/No file matches these filters/)).toBeInTheDocument();
    const last = calls.filter((call) => call.url.pathname === "/api/files").at(-1);
    expect(last?.url.searchParams.get("persistent_id")).toBe("ark:/99999/fk4abc");
    expect(last?.url.searchParams.get("skip")).toBe("0");
  });

  it("refuses a metadata value without its field", async () => {
    fakeServer((call) => (call.url.pathname === "/api/instruments" ? { json: instruments } : { json: page([]) }));
    renderPage(<FilesPage />, "/files");
    await userEvent.type(screen.getByLabelText("Metadata value"), "S-042");
    await userEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(await screen.findByText("Name the metadata field too")).toBeInTheDocument();
  });

  it("says what went wrong and retries", async () => {
    let fail = true;
    fakeServer((call) => {
      if (call.url.pathname === "/api/instruments") return { json: instruments };
      if (fail) return { status: 500, json: { detail: "database unreachable" } };
      return { json: page([file(1)]) };
    });
    renderPage(<FilesPage />, "/files");
    expect(await screen.findByRole("alert")).toHaveTextContent("database unreachable");
    fail = false;
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByRole("link", { name: "1.fid" })).toBeInTheDocument();
  });
});
