import { PasswordInput } from "@mantine/core";
import type { UseFormReturnType } from "@mantine/form";

export interface NewPasswordValues {
  password: string;
  confirm: string;
}

export const MIN_PASSWORD_LENGTH = 8;

export function validateNewPassword<T extends NewPasswordValues>() {
  return {
    password: (value: string) =>
      value.length >= MIN_PASSWORD_LENGTH ? null : `Use at least ${MIN_PASSWORD_LENGTH} characters`,
    confirm: (value: string, values: T) => (value === values.password ? null : "The two passwords differ"),
  };
}

export function NewPasswordFields<T extends NewPasswordValues>({ form }: { form: UseFormReturnType<T> }) {
  return (
    <>
      <PasswordInput label="New password" autoComplete="new-password" required {...form.getInputProps("password")} />
      <PasswordInput
        label="Repeat the new password"
        autoComplete="new-password"
        required
        {...form.getInputProps("confirm")}
      />
    </>
  );
}
