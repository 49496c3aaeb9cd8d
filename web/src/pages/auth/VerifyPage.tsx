import { Alert, Anchor } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { FormError, LoadingState } from "../../components/States";
import { AuthFrame } from "./AuthFrame";

export function VerifyPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const verify = useMutation({ mutationFn: () => api.post<void>("/auth/verify", { token }) });
  const { mutate } = verify;
  // A token works once: never send it twice (React runs effects twice in development).
  const sent = useRef(false);
  useEffect(() => {
    if (token && !sent.current) {
      sent.current = true;
      mutate();
    }
  }, [token, mutate]);
  return (
    <AuthFrame title="Verify your e-mail">
      {!token && (
        <Alert color="red" role="alert">
          This link has no verification token: open the link from the e-mail again.
        </Alert>
      )}
      {verify.isPending && <LoadingState label="Verifying…" />}
      <FormError error={verify.error} />
      {verify.isSuccess && (
        <Alert color="green" role="status">
          Your e-mail address is verified.
        </Alert>
      )}
      <Anchor component={Link} to="/login" size="sm">
        Go to log in
      </Anchor>
    </AuthFrame>
  );
}
