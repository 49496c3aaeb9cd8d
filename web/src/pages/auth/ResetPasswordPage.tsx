import { Alert, Anchor, Button, Stack } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { NewPasswordFields, validateNewPassword, type NewPasswordValues } from "../../components/NewPasswordFields";
import { FormError } from "../../components/States";
import { AuthFrame } from "./AuthFrame";

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const form = useForm<NewPasswordValues>({
    initialValues: { password: "", confirm: "" },
    validate: validateNewPassword<NewPasswordValues>(),
  });
  const reset = useMutation({
    mutationFn: (password: string) => api.post<void>("/auth/reset-password", { token, password }),
  });
  if (!token) {
    return (
      <AuthFrame title="Choose a new password">
        <Alert color="red" role="alert">
          This link has no reset token. Open the link from the e-mail again, or ask for a new one.
        </Alert>
        <Anchor component={Link} to="/forgot-password" size="sm">
          Ask for a new reset link
        </Anchor>
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title="Choose a new password">
      {reset.isSuccess ? (
        <Alert color="green" role="status" title="Password changed">
          You can now log in with your new password. Every other session was signed out.
        </Alert>
      ) : (
        <form onSubmit={form.onSubmit((values) => reset.mutate(values.password))} noValidate>
          <Stack gap="sm">
            <FormError error={reset.error} />
            <NewPasswordFields form={form} />
            <Button type="submit" loading={reset.isPending}>
              Set new password
            </Button>
          </Stack>
        </form>
      )}
      <Anchor component={Link} to="/login" size="sm">
        Go to log in
      </Anchor>
    </AuthFrame>
  );
}
