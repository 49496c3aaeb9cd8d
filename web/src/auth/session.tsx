import { Center, Loader } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { createContext, useContext } from "react";
import { Navigate, Outlet, useLocation } from "react-router";
import { api, ApiError } from "../api/client";
import type { Me } from "../api/types";
import { ErrorState } from "../components/States";
import { NotFoundPage } from "../pages/NotFoundPage";

export const ME_KEY = ["me"] as const;

/** The logged-in user, or null when there is no valid session cookie. */
export function useMe() {
  return useQuery({
    queryKey: ME_KEY,
    queryFn: async ({ signal }) => {
      try {
        return await api.get<Me>("/api/me", undefined, signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
  });
}

// The user RequireLogin let in: pages keep it while a lost session redirects them to
// the login page, instead of each reading a session that may have just ended.
const CurrentUser = createContext<Me | null>(null);

export function useCurrentUser(): Me {
  const user = useContext(CurrentUser);
  if (!user) throw new Error("useCurrentUser is only for pages under RequireLogin");
  return user;
}

function Checking() {
  return (
    <Center h="60vh">
      <Loader aria-label="Checking your session" />
    </Center>
  );
}

export function RequireLogin() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <Checking />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => me.refetch()} />;
  if (!me.data) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return (
    <CurrentUser.Provider value={me.data}>
      <Outlet />
    </CurrentUser.Provider>
  );
}

/** Admin pages: to anyone else they do not exist (the API answers them 404 too). */
export function RequireAdmin() {
  const user = useCurrentUser();
  if (user.role !== "admin") return <NotFoundPage />;
  return <Outlet />;
}
