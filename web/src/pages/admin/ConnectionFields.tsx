import { NumberInput, PasswordInput, Select, SimpleGrid, Switch, Textarea, TextInput } from "@mantine/core";
import { MASK, type ConfigValues, type FieldSpec } from "./connectionFields";

interface Props {
  fields: FieldSpec[];
  values: ConfigValues;
  errors: Record<string, string>;
  stored?: Record<string, unknown>;
  onChange: (name: string, value: string | number | boolean) => void;
}

/** The inputs for one kind of location; secrets are write-only. */
export function ConnectionFields({ fields, values, errors, stored, onChange }: Props) {
  if (fields.length === 0) return null;
  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
      {fields.map((field) => {
        const common = {
          label: field.label,
          description: field.description,
          required: field.required,
          error: errors[field.name],
          placeholder: field.placeholder,
        };
        const value = values[field.name];
        const kept = stored?.[field.name] === MASK;
        switch (field.kind) {
          case "secret":
            return (
              <PasswordInput
                key={field.name}
                {...common}
                required={field.required && !kept}
                autoComplete="new-password"
                placeholder={kept ? "stored; leave empty to keep it" : undefined}
                description={kept ? "Stored and never shown. Type a new value to replace it." : field.description}
                value={String(value ?? "")}
                onChange={(event) => onChange(field.name, event.currentTarget.value)}
              />
            );
          case "number":
            return (
              <NumberInput
                key={field.name}
                {...common}
                value={value === "" ? "" : Number(value)}
                onChange={(next) => onChange(field.name, next)}
                min={1}
                max={65535}
              />
            );
          case "boolean":
            return (
              <Switch
                key={field.name}
                label={field.label}
                description={field.description}
                checked={Boolean(value)}
                onChange={(event) => onChange(field.name, event.currentTarget.checked)}
                mt="lg"
              />
            );
          case "textarea":
            return (
              <Textarea
                key={field.name}
                {...common}
                placeholder={kept ? "stored; leave empty to keep it" : undefined}
                autosize
                minRows={2}
                value={String(value ?? "")}
                onChange={(event) => onChange(field.name, event.currentTarget.value)}
              />
            );
          case "select":
            return (
              <Select
                key={field.name}
                {...common}
                data={field.options ?? []}
                value={String(value ?? "")}
                onChange={(next) => onChange(field.name, next ?? "")}
                allowDeselect={false}
              />
            );
          default:
            return (
              <TextInput
                key={field.name}
                {...common}
                value={String(value ?? "")}
                onChange={(event) => onChange(field.name, event.currentTarget.value)}
              />
            );
        }
      })}
    </SimpleGrid>
  );
}
