// Shapes of the v0 API's answers (src/streamweave/api/schemas on the server).

export type Role = "admin" | "user";

export interface User {
  id: string;
  email: string;
  is_active: boolean;
  is_superuser: boolean;
  is_verified: boolean;
  role: Role;
  deleted_at: string | null;
}

export interface Membership {
  id: string;
  name: string;
  description: string | null;
}

export interface Me extends User {
  groups: Membership[];
  projects: Membership[];
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ApiTokenCreated extends ApiToken {
  token: string;
}

export interface Notification {
  id: string;
  type: string;
  title: string;
  message: string;
  link: string | null;
  read: boolean;
  dismissed: boolean;
  created_at: string;
}

export interface FileRecord {
  id: string;
  persistent_id: string;
  persistent_id_type: string;
  instrument_id: string;
  source_path: string;
  filename: string;
  size_bytes: number;
  source_mtime: string | null;
  xxhash: string | null;
  sha256: string | null;
  md5: string | null;
  first_discovered_at: string;
  updated_at: string;
  source_deleted_at: string | null;
  current_version: number;
  metadata_: Record<string, unknown>;
  owner_id: string | null;
}

export interface FileVersion {
  version: number;
  persistent_id: string;
  size_bytes: number;
  source_mtime: string | null;
  checksums: Record<string, string>;
  discovered_at: string;
}

export interface ArkResolution extends FileRecord {
  ark: string;
  requested_version: number | null;
  versions: FileVersion[];
}

export interface FileGrant {
  id: string;
  file_id: string;
  grantee_type: "user" | "group" | "project";
  grantee_id: string;
  created_at: string;
}

export type TransferStatus = "pending" | "in_progress" | "completed" | "failed" | "skipped";

export interface Transfer {
  id: string;
  file_id: string;
  file_version_id: string | null;
  storage_location_id: string;
  harvest_run_id: string | null;
  destination_path: string | null;
  transfer_adapter: string;
  status: TransferStatus;
  attempt: number;
  bytes_transferred: number;
  checksum_algorithm: string | null;
  source_checksum: string | null;
  dest_checksum: string | null;
  checksum_verified: boolean;
  started_at: string | null;
  completed_at: string | null;
  error_message: string | null;
  prefect_flow_run_id: string | null;
  created_at: string;
}

export type HarvestRunStatus = "running" | "completed" | "completed_with_errors" | "failed";

export interface HarvestRun {
  id: string;
  instrument_id: string;
  storage_location_id: string;
  schedule_id: string | null;
  status: HarvestRunStatus;
  started_at: string;
  finished_at: string | null;
  files_discovered: number;
  files_completed: number;
  files_failed: number;
  files_skipped: number;
  files_waiting: number;
  files_unchanged: number;
  files_vanished: number;
  files_permanently_failed: number;
  bytes_transferred: number;
  prefect_flow_run_id: string | null;
  error_message: string | null;
  duration_seconds: number;
  files_per_second: number;
  bytes_per_second: number;
}

export type SourceType = "cifs" | "local" | "sftp" | "s3" | "webdav";
export type StorageType = "posix" | "nfs" | "cifs" | "s3" | "sftp" | "webdav";

export type CompletionRule =
  | { mode: "none" }
  | { mode: "quiet_period"; seconds: number }
  | { mode: "marker"; marker: string; scope?: "directory" };

export interface Instrument {
  id: string;
  name: string;
  description: string | null;
  location: string | null;
  pid: string | null;
  source_type: SourceType;
  enabled: boolean;
  last_harvested_at: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  // Admins only:
  cifs_host?: string | null;
  cifs_port?: number;
  cifs_share?: string | null;
  cifs_base_path?: string | null;
  service_account_id?: string | null;
  transfer_adapter?: string;
  transfer_config?: Record<string, unknown> | null;
  source_config?: Record<string, unknown>;
  completion_rule?: CompletionRule;
}

export interface StorageLocation {
  id: string;
  name: string;
  type: StorageType;
  connection_config: Record<string, unknown>;
  base_path: string;
  checksum_algorithm: string;
  enabled: boolean;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ServiceAccount {
  id: string;
  name: string;
  domain: string | null;
  username: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface Schedule {
  id: string;
  instrument_id: string;
  default_storage_location_id: string;
  cron_expression: string;
  timezone: string;
  enabled: boolean;
  prefect_deployment_id: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ConnectionTest {
  ok: boolean;
  message: string;
}

export interface HarvestTriggered {
  triggered: { flow_run_id: string; schedule_id: string }[];
  errors: unknown[];
}
