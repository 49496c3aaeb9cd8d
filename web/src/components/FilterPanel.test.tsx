import { TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { renderPage } from "../test/render";
import { FilterPanel } from "./FilterPanel";

function Filters({ onApply }: { onApply: (filters: { path: string }) => void }) {
  const form = useForm({ initialValues: { path: "" } });
  return (
    <FilterPanel label="Search things" form={form} submitLabel="Search" onApply={onApply}>
      <TextInput label="Path" {...form.getInputProps("path")} />
    </FilterPanel>
  );
}

describe("FilterPanel", () => {
  it("applies the filters on submit, and Clear empties and applies them", async () => {
    const onApply = vi.fn();
    renderPage(<Filters onApply={onApply} />);
    expect(screen.getByRole("region", { name: "Search things" })).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Path"), "run_7/");
    expect(onApply).not.toHaveBeenCalled();

    await userEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(onApply).toHaveBeenLastCalledWith({ path: "run_7/" });

    await userEvent.click(screen.getByRole("button", { name: "Clear" }));
    expect(onApply).toHaveBeenLastCalledWith({ path: "" });
    expect(screen.getByLabelText("Path")).toHaveValue("");
  });
});
