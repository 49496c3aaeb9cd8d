import { Navigate, Route, Routes } from "react-router";
import { RequireAdmin, RequireLogin, useCurrentUser } from "./auth/session";
import { Layout } from "./components/Layout";
import { ForgotPasswordPage } from "./pages/auth/ForgotPasswordPage";
import { LoginPage } from "./pages/auth/LoginPage";
import { ResetPasswordPage } from "./pages/auth/ResetPasswordPage";
import { VerifyPage } from "./pages/auth/VerifyPage";
import { FilePage } from "./pages/FilePage";
import { FilesPage } from "./pages/FilesPage";
import { HarvestRunPage } from "./pages/HarvestRunPage";
import { HarvestRunsPage } from "./pages/HarvestRunsPage";
import { InstrumentRequestsPage } from "./pages/InstrumentRequestsPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SettingsPage } from "./pages/SettingsPage";
import { TransfersPage } from "./pages/TransfersPage";
import { adminRoutes } from "./pages/admin/routes";

/** Admins start on the dashboard, everyone else on their files. */
function Home() {
  const user = useCurrentUser();
  return <Navigate to={user.role === "admin" ? "/admin/dashboard" : "/files"} replace />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/forgot-password" element={<ForgotPasswordPage />} />
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route path="/verify" element={<VerifyPage />} />
      <Route element={<RequireLogin />}>
        <Route element={<Layout />}>
          <Route index element={<Home />} />
          <Route path="files" element={<FilesPage />} />
          <Route path="files/:fileId" element={<FilePage />} />
          <Route path="transfers" element={<TransfersPage />} />
          <Route path="harvest-runs" element={<HarvestRunsPage />} />
          <Route path="harvest-runs/:runId" element={<HarvestRunPage />} />
          <Route path="instrument-requests" element={<InstrumentRequestsPage />} />
          <Route path="settings" element={<SettingsPage />} />
          <Route path="admin" element={<RequireAdmin />}>
            {adminRoutes}
          </Route>
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Route>
    </Routes>
  );
}
