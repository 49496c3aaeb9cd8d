import { Alert, Anchor, Button, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../../api/client";
import { FormError } from "../../components/States";
import { AuthFrame } from "./AuthFrame";

export function ForgotPasswordPage() {
  const form = useForm({
    initialValues: { email: "" },
    validate: { email: (value) => (/^\S+@\S+$/.test(value.trim()) ? null : "Enter a valid e-mail address") },
  });
  const send = useMutation({
    mutationFn: (email: string) => api.post<void>("/auth/forgot-password", { email }),
  });
  return (
    <AuthFrame title="Reset your password">
      {send.isSuccess ? (
        <Alert color="green" role="status" title="Check your e-mail">
          If an account exists for {form.values.email.trim()}, we sent it a link to choose a new
          password. The link is valid for one hour.
        </Alert>
      ) : (
        <form onSubmit={form.onSubmit((values) => send.mutate(values.email.trim()))} noValidate>
          <Stack gap="sm">
            <Text size="sm" c="dimmed">
              Enter the e-mail address of your account; we will send you a link to choose a new
              password.
            </Text>
            <FormError error={send.error} />
            <TextInput label="E-mail" type="email" autoComplete="email" required {...form.getInputProps("email")} />
            <Button type="submit" loading={send.isPending}>
              Send reset link
            </Button>
          </Stack>
        </form>
      )}
      <Anchor component={Link} to="/login" size="sm">
        Back to log in
      </Anchor>
    </AuthFrame>
  );
}
