import { Button, Group, Paper } from "@mantine/core";
import type { UseFormReturnType } from "@mantine/form";
import type { ReactNode } from "react";

interface Props<T> {
  /** The section's accessible name. */
  label: string;
  form: UseFormReturnType<T>;
  submitLabel: string;
  /** Takes the filters to query with: the form's values, or its initial ones on Clear. */
  onApply: (filters: T) => void;
  children: ReactNode;
}

/** Filters above a list, applied on submit rather than on every keystroke; Clear empties them. */
export function FilterPanel<T>({ label, form, submitLabel, onApply, children }: Props<T>) {
  return (
    <Paper withBorder p="md" mb="md" component="section" aria-label={label}>
      <form
        onSubmit={form.onSubmit((values) => onApply(values))}
        onReset={() => {
          form.reset();
          onApply(form.getInitialValues());
        }}
        noValidate
      >
        {children}
        <Group mt="sm" gap="xs">
          <Button type="submit">{submitLabel}</Button>
          <Button type="reset" variant="default">
            Clear
          </Button>
        </Group>
      </form>
    </Paper>
  );
}
