import { Anchor, Button, PasswordInput, Stack, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { request } from "../../api/client";
import { ME_KEY } from "../../auth/session";
import { FormError } from "../../components/States";
import { AuthFrame } from "./AuthFrame";

/** Only paths of this app: never an address elsewhere (an open redirect). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}

export function LoginPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const navigate = useNavigate();
  const client = useQueryClient();
  const form = useForm({
    initialValues: { email: "", password: "" },
    validate: {
      email: (value) => (value.trim() ? null : "Enter your e-mail address"),
      password: (value) => (value ? null : "Enter your password"),
    },
  });
  const login = useMutation({
    mutationFn: (values: { email: string; password: string }) =>
      request<void>("/auth/cookie/login", {
        method: "POST",
        form: { username: values.email.trim(), password: values.password },
      }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ME_KEY });
      navigate(next, { replace: true });
    },
  });

  return (
    <AuthFrame title="Log in">
      <form onSubmit={form.onSubmit((values) => login.mutate(values))} noValidate>
        <Stack gap="sm">
          <FormError error={login.error} />
          <TextInput
            label="E-mail"
            type="email"
            autoComplete="username"
            required
            data-autofocus
            {...form.getInputProps("email")}
          />
          <PasswordInput label="Password" autoComplete="current-password" required {...form.getInputProps("password")} />
          <Button type="submit" loading={login.isPending}>
            Log in
          </Button>
          <Anchor component={Link} to="/forgot-password" size="sm">
            Forgot your password?
          </Anchor>
        </Stack>
      </form>
    </AuthFrame>
  );
}
