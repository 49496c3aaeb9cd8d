import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { StorageLocation } from "../../api/types";
import { fakeServer, renderPage } from "../../test/render";
import { formToConfig, missingFields, STORAGE_FIELDS } from "./connectionFields";
import { StorageForm } from "./StorageLocationsPage";

afterEach(() => vi.unstubAllGlobals());

const stored: StorageLocation = {
  id: "s-1",
  name: "Lab S3",
  type: "s3",
  connection_config: { bucket: "lab-archive", region: "eu-central-1", access_key_id: "****", secret_access_key: "****", path_style: true },
  base_path: "raw",
  checksum_algorithm: "sha256",
  enabled: true,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  deleted_at: null,
};

describe("connection configs", () => {
  it("keeps a stored secret left empty, and drops empty optional fields", () => {
    const config = formToConfig(
      STORAGE_FIELDS.s3,
      { bucket: "b", region: "r", endpoint_url: "", access_key_id: "", secret_access_key: "new", path_style: false, prefix: "" },
      stored.connection_config,
    );
    expect(config).toEqual({ bucket: "b", region: "r", access_key_id: "****", secret_access_key: "new", path_style: false });
  });
  it("asks for required secrets unless one is stored", () => {
    const values = { host: "h", port: 445, share: "s", domain: "", username: "u", password: "" };
    expect(missingFields(STORAGE_FIELDS.cifs, values, undefined)).toEqual({ password: "Password is required" });
    expect(missingFields(STORAGE_FIELDS.cifs, values, { password: "****" })).toEqual({});
  });
});

describe("StorageForm", () => {
  it("shows the fields of the chosen type and creates a POSIX location", async () => {
    const calls = fakeServer(() => ({ status: 201, json: { ...stored, type: "posix" } }));
    const done = vi.fn();
    renderPage(<StorageForm item={null} onDone={done} />);
    expect(screen.queryByLabelText(/Bucket/)).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Create storage location" }));
    expect(await screen.findByText("Name the storage location")).toBeInTheDocument();
    expect(screen.getByText(/An absolute directory/)).toBeInTheDocument();
    expect(calls).toHaveLength(0);

    await userEvent.type(screen.getByLabelText(/^Name/), "Archive");
    await userEvent.type(screen.getByLabelText(/^Directory/), "/srv/archive");
    await userEvent.click(screen.getByRole("button", { name: "Create storage location" }));
    await vi.waitFor(() => expect(done).toHaveBeenCalled());
    expect(calls[0].method).toBe("POST");
    expect(JSON.parse(String(calls[0].body))).toEqual({
      name: "Archive",
      type: "posix",
      base_path: "/srv/archive",
      checksum_algorithm: "xxh3-128",
      enabled: true,
      connection_config: {},
    });
  });

  it("never shows stored secrets and sends **** to keep them", async () => {
    const calls = fakeServer(() => ({ json: stored }));
    const done = vi.fn();
    renderPage(<StorageForm item={stored} onDone={done} />);
    const secret = screen.getByLabelText(/^Secret access key/);
    expect(secret).toHaveValue("");
    expect(screen.getAllByText(/Stored and never shown/)).toHaveLength(2);
    expect(screen.getByLabelText(/^Bucket/)).toHaveValue("lab-archive");
    await userEvent.clear(screen.getByLabelText(/^Bucket/));
    await userEvent.type(screen.getByLabelText(/^Bucket/), "new-bucket");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    await vi.waitFor(() => expect(done).toHaveBeenCalled());
    expect(calls[0].method).toBe("PATCH");
    expect(calls[0].url.pathname).toBe("/api/storage-locations/s-1");
    const body = JSON.parse(String(calls[0].body));
    expect(body.connection_config).toMatchObject({ bucket: "new-bucket", access_key_id: "****", secret_access_key: "****" });
  });

  it("shows the server's refusal and stays open", async () => {
    fakeServer(() => ({ status: 409, json: { detail: "a storage location named 'Archive' already exists" } }));
    const done = vi.fn();
    renderPage(<StorageForm item={null} onDone={done} />);
    await userEvent.type(screen.getByLabelText(/^Name/), "Archive");
    await userEvent.type(screen.getByLabelText(/^Directory/), "/srv/archive");
    await userEvent.click(screen.getByRole("button", { name: "Create storage location" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("already exists");
    expect(done).not.toHaveBeenCalled();
  });
});
