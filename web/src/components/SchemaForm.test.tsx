import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { renderPage } from "../test/render";
import { canRender, cleanValue, initialValue, SchemaFields, type Schema } from "./SchemaForm";

// The file_filter built-in's schema, as GET /api/hooks/builtins serves it.
const FILE_FILTER: Schema = {
  type: "object",
  properties: {
    exclude_patterns: { type: "array", items: { type: "string" }, default: [] },
    min_size_bytes: { type: "integer", minimum: 0 },
    redirect_rules: {
      type: "array",
      default: [],
      items: {
        type: "object",
        required: ["pattern", "destination"],
        properties: { pattern: { type: "string" }, destination: { type: "string" } },
      },
    },
  },
};

const ENRICHMENT: Schema = {
  type: "object",
  properties: {
    rules: {
      type: "array",
      items: {
        type: "object",
        properties: { pattern: { type: "string" }, source: { enum: ["filename", "path"], default: "filename" } },
      },
    },
    extractors: { type: "array", items: { enum: ["bruker_acqus", "tiff_tags"] } },
  },
};

function Harness({ schema, onValue }: { schema: Schema; onValue: (value: Record<string, unknown>) => void }) {
  const [value, setValue] = useState(() => initialValue(schema));
  return (
    <SchemaFields
      schema={schema}
      value={value}
      onChange={(next) => {
        setValue(next);
        onValue(cleanValue(schema, next));
      }}
    />
  );
}

describe("SchemaForm", () => {
  it("renders the built-ins' schemas, and not arbitrary ones", () => {
    expect(canRender(FILE_FILTER)).toBe(true);
    expect(canRender(ENRICHMENT)).toBe(true);
    expect(canRender({ type: "object", properties: { deep: { type: "array", items: { type: "array" } } } })).toBe(false);
  });

  it("starts from defaults and leaves out empty optional values", () => {
    expect(initialValue(FILE_FILTER)).toEqual({ exclude_patterns: [], redirect_rules: [] });
    expect(cleanValue(FILE_FILTER, { exclude_patterns: ["*.tmp"], min_size_bytes: undefined, redirect_rules: [] })).toEqual({
      exclude_patterns: ["*.tmp"],
      redirect_rules: [],
    });
  });

  it("edits lists of strings, numbers and lists of objects with labelled inputs", async () => {
    let latest: Record<string, unknown> = {};
    renderPage(<Harness schema={FILE_FILTER} onValue={(value) => (latest = value)} />);
    await userEvent.type(screen.getByLabelText(/^Exclude patterns/), "*.tmp{enter}*.lock");
    await userEvent.type(screen.getByLabelText(/^Min size bytes/), "10");
    await userEvent.click(screen.getByRole("button", { name: "Add redirect rule" }));
    await userEvent.type(screen.getByLabelText(/^Redirect rules 1: Pattern/), "*.csv");
    await userEvent.type(screen.getByLabelText(/^Redirect rules 1: Destination/), "tables");
    expect(latest).toEqual({
      exclude_patterns: ["*.tmp", "*.lock"],
      min_size_bytes: 10,
      redirect_rules: [{ pattern: "*.csv", destination: "tables" }],
    });
    await userEvent.click(screen.getByRole("button", { name: "Remove Redirect rules 1" }));
    expect(latest.redirect_rules).toEqual([]);
  });

  it("gives nested enums their default", async () => {
    let latest: Record<string, unknown> = {};
    renderPage(<Harness schema={ENRICHMENT} onValue={(value) => (latest = value)} />);
    await userEvent.click(screen.getByRole("button", { name: "Add rule" }));
    await userEvent.type(screen.getByLabelText(/^Rules 1: Pattern/), "(?P<sample>S\\d+)");
    expect(latest.rules).toEqual([{ pattern: "(?P<sample>S\\d+)", source: "filename" }]);
  });
});
