import { useState } from "react";
import { ActionIcon, Button, Checkbox, Group, MultiSelect, NumberInput, Paper, Select, Stack, Text, Textarea, TextInput } from "@mantine/core";

// Forms from a hook's JSON Schema: objects of strings, numbers, booleans, enums, lists
// of strings or enums, and lists of such objects (what the built-ins use). A schema
// outside that is edited as JSON instead (see canRender).

export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  description?: string;
  title?: string;
}

type Value = unknown;

function kindOf(schema: Schema): string {
  if (schema.enum) return "enum";
  if (Array.isArray(schema.type)) return schema.type[0] ?? "string";
  return schema.type ?? (schema.properties ? "object" : "string");
}

/** Whether every field of the schema has an input here. */
export function canRender(schema: Schema, depth = 0): boolean {
  const kind = kindOf(schema);
  if (kind === "enum" || kind === "string" || kind === "integer" || kind === "number" || kind === "boolean") return true;
  if (kind === "array") {
    const items = schema.items ?? {};
    const itemKind = kindOf(items);
    // Lists of objects, but not lists of objects inside them: a form would get unwieldy.
    return itemKind === "string" || itemKind === "enum" || (itemKind === "object" && depth < 2 && canRender(items, depth + 2));
  }
  if (kind === "object") return Object.values(schema.properties ?? {}).every((child) => canRender(child, depth + 1));
  return false;
}

/** A starting value: the schema's defaults, empty lists, nothing for optional scalars. */
export function initialValue(schema: Schema): Record<string, Value> {
  const value: Record<string, Value> = {};
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (child.default !== undefined) value[name] = structuredClone(child.default);
    else if (kindOf(child) === "array") value[name] = [];
  }
  return value;
}

/** The config to send: empty optional scalars left out. */
export function cleanValue(schema: Schema, value: Record<string, Value>): Record<string, Value> {
  const clean: Record<string, Value> = {};
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const item = value[name];
    if (item === undefined || item === "" || item === null) continue;
    if (kindOf(child) === "array" && kindOf(child.items ?? {}) === "object" && Array.isArray(item)) {
      clean[name] = item.map((entry) => cleanValue(child.items ?? {}, entry as Record<string, Value>));
    } else clean[name] = item;
  }
  return clean;
}

function humanize(name: string): string {
  const text = name.replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

interface FieldProps {
  name: string;
  schema: Schema;
  required: boolean;
  value: Value;
  onChange: (value: Value) => void;
  label?: string;
}

function Field({ name, schema, required, value, onChange, label }: FieldProps) {
  const common = { label: label ?? schema.title ?? humanize(name), description: schema.description, required };
  const kind = kindOf(schema);
  if (kind === "enum") {
    return (
      <Select
        {...common}
        data={(schema.enum ?? []).map(String)}
        value={value === undefined ? null : String(value)}
        onChange={(next) => onChange(next ?? undefined)}
        clearable={!required}
      />
    );
  }
  if (kind === "boolean") {
    return <Checkbox label={common.label} description={common.description} checked={Boolean(value)} onChange={(event) => onChange(event.currentTarget.checked)} />;
  }
  if (kind === "integer" || kind === "number") {
    return (
      <NumberInput
        {...common}
        min={schema.minimum}
        max={schema.maximum}
        allowDecimal={kind === "number"}
        value={typeof value === "number" ? value : ""}
        onChange={(next) => onChange(next === "" ? undefined : Number(next))}
      />
    );
  }
  if (kind === "array") {
    const items = schema.items ?? {};
    const list = Array.isArray(value) ? value : [];
    if (kindOf(items) === "enum") {
      return <MultiSelect {...common} data={(items.enum ?? []).map(String)} value={list.map(String)} onChange={onChange} />;
    }
    if (kindOf(items) === "object") return <ObjectList {...common} schema={items} value={list} onChange={onChange} />;
    return <StringList {...common} items={list.map(String)} onChange={onChange} />;
  }
  return <TextInput {...common} value={typeof value === "string" ? value : ""} onChange={(event) => onChange(event.currentTarget.value)} />;
}

/** One entry per line; the text is kept as typed (blank lines too) while the list is sent. */
function StringList({
  items,
  onChange,
  description,
  ...common
}: {
  label: string;
  description?: string;
  required: boolean;
  items: string[];
  onChange: (value: Value) => void;
}) {
  const [text, setText] = useState(() => items.join("\n"));
  return (
    <Textarea
      {...common}
      description={[description, "One per line"].filter(Boolean).join(". ")}
      autosize
      minRows={2}
      value={text}
      onChange={(event) => {
        const raw = event.currentTarget.value;
        setText(raw);
        onChange(
          raw
            .split("\n")
            .map((line) => line.trim())
            .filter(Boolean),
        );
      }}
    />
  );
}

function ObjectList({ label, schema, value, onChange }: { label: string; schema: Schema; value: Value[]; onChange: (value: Value) => void }) {
  const update = (index: number, next: Record<string, Value>) => onChange(value.map((item, at) => (at === index ? next : item)));
  return (
    <Stack gap="xs">
      <Text size="sm" fw={500}>
        {label}
      </Text>
      {value.length === 0 && (
        <Text size="xs" c="dimmed">
          None.
        </Text>
      )}
      {value.map((item, index) => (
        <Paper withBorder p="xs" key={index}>
          <Group align="flex-end" gap="xs" wrap="nowrap">
            <Group grow style={{ flex: 1 }} align="flex-start">
              <SchemaFields
                schema={schema}
                value={item as Record<string, Value>}
                onChange={(next) => update(index, next)}
                prefix={`${label} ${index + 1}: `}
              />
            </Group>
            <ActionIcon
              variant="subtle"
              color="red"
              aria-label={`Remove ${label} ${index + 1}`}
              onClick={() => onChange(value.filter((_, at) => at !== index))}
            >
              ✕
            </ActionIcon>
          </Group>
        </Paper>
      ))}
      <div>
        <Button size="xs" variant="light" onClick={() => onChange([...value, initialValue(schema)])}>
          Add {label.toLowerCase().replace(/s$/, "")}
        </Button>
      </div>
    </Stack>
  );
}

export function SchemaFields({
  schema,
  value,
  onChange,
  prefix = "",
}: {
  schema: Schema;
  value: Record<string, Value>;
  onChange: (value: Record<string, Value>) => void;
  prefix?: string;
}) {
  const required = new Set(schema.required ?? []);
  return (
    <>
      {Object.entries(schema.properties ?? {}).map(([name, child]) => (
        <Field
          key={name}
          name={name}
          schema={child}
          required={required.has(name)}
          value={value[name]}
          label={prefix ? `${prefix}${child.title ?? humanize(name)}` : undefined}
          onChange={(next) => onChange({ ...value, [name]: next })}
        />
      ))}
    </>
  );
}
