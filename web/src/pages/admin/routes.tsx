import { Route } from "react-router";
import { AuditLogPage } from "./AuditLogPage";
import { DashboardPage } from "./DashboardPage";
import { HooksPage } from "./HooksPage";
import { EditInstrumentPage, InstrumentPage, NewInstrumentPage } from "./InstrumentPage";
import { InstrumentsPage } from "./InstrumentsPage";
import { SchedulesPage } from "./SchedulesPage";
import { ServiceAccountsPage } from "./ServiceAccountsPage";
import { StorageLocationsPage } from "./StorageLocationsPage";
import { TeamPage, TeamsPage } from "./TeamsPage";
import { UsersPage } from "./UsersPage";
import { NotFoundPage } from "../NotFoundPage";

export const adminRoutes = (
  <>
    <Route path="dashboard" element={<DashboardPage />} />
    <Route path="instruments" element={<InstrumentsPage />} />
    <Route path="instruments/new" element={<NewInstrumentPage />} />
    <Route path="instruments/:instrumentId" element={<InstrumentPage />} />
    <Route path="instruments/:instrumentId/edit" element={<EditInstrumentPage />} />
    <Route path="storage-locations" element={<StorageLocationsPage />} />
    <Route path="service-accounts" element={<ServiceAccountsPage />} />
    <Route path="schedules" element={<SchedulesPage />} />
    <Route path="hooks" element={<HooksPage />} />
    <Route path="users" element={<UsersPage />} />
    <Route path="groups" element={<TeamsPage kind="groups" key="groups" />} />
    <Route path="groups/:teamId" element={<TeamPage kind="groups" key="group" />} />
    <Route path="projects" element={<TeamsPage kind="projects" key="projects" />} />
    <Route path="projects/:teamId" element={<TeamPage kind="projects" key="project" />} />
    <Route path="audit-log" element={<AuditLogPage />} />
    <Route path="*" element={<NotFoundPage />} />
  </>
);
