// The connection fields of each kind of location (src/streamweave/transfers/configs.py).

export interface FieldSpec {
  name: string;
  label: string;
  kind: "text" | "secret" | "number" | "boolean" | "textarea" | "select";
  required?: boolean;
  description?: string;
  placeholder?: string;
  options?: string[];
  initial?: string | number | boolean;
}

const host: FieldSpec = { name: "host", label: "Host", kind: "text", required: true, placeholder: "server.lab.example.org" };
const username: FieldSpec = { name: "username", label: "User name", kind: "text", required: true };
const optionalUser: FieldSpec = { ...username, required: false };
const password: FieldSpec = { name: "password", label: "Password", kind: "secret", required: true };
const optionalPassword: FieldSpec = { ...password, required: false };
const subPath: FieldSpec = { name: "path", label: "Path on the server", kind: "text" };

const S3: FieldSpec[] = [
  { name: "bucket", label: "Bucket", kind: "text", required: true },
  { name: "region", label: "Region", kind: "text", initial: "us-east-1" },
  { name: "endpoint_url", label: "Endpoint URL", kind: "text", description: "For S3-compatible stores; empty for AWS", placeholder: "https://s3.lab.example.org" },
  { name: "access_key_id", label: "Access key ID", kind: "secret", required: true },
  { name: "secret_access_key", label: "Secret access key", kind: "secret", required: true },
  { name: "path_style", label: "Path-style addressing", kind: "boolean", description: "Most S3-compatible stores need it" },
  { name: "prefix", label: "Key prefix", kind: "text" },
];

const SFTP: FieldSpec[] = [
  host,
  { name: "port", label: "Port", kind: "number", initial: 22 },
  username,
  optionalPassword,
  { name: "private_key", label: "Private key", kind: "textarea", description: "PEM or OpenSSH; instead of a password" },
  { name: "key_passphrase", label: "Key passphrase", kind: "secret" },
  { name: "host_key", label: "Pinned host key", kind: "text", placeholder: "ssh-ed25519 AAAA…", description: "Connections to a server with another key are refused" },
  subPath,
];

const WEBDAV: FieldSpec[] = [
  { name: "url", label: "URL", kind: "text", required: true, placeholder: "https://dav.lab.example.org/remote.php/dav" },
  { name: "vendor", label: "Server", kind: "select", options: ["other", "nextcloud", "owncloud", "sharepoint"], initial: "other" },
  optionalUser,
  optionalPassword,
  subPath,
];

export const STORAGE_FIELDS: Record<string, FieldSpec[]> = {
  posix: [],
  nfs: [host, { name: "export_path", label: "Export path", kind: "text", required: true }, { name: "mount_options", label: "Mount options", kind: "text" }],
  cifs: [
    host,
    { name: "port", label: "Port", kind: "number", initial: 445 },
    { name: "share", label: "Share", kind: "text", required: true },
    { name: "domain", label: "Domain", kind: "text" },
    username,
    password,
  ],
  s3: S3,
  sftp: SFTP,
  webdav: WEBDAV,
};

export const STORAGE_TYPES = [
  { value: "posix", label: "Local or mounted directory (POSIX)" },
  { value: "nfs", label: "NFS" },
  { value: "cifs", label: "SMB / CIFS share" },
  { value: "s3", label: "S3" },
  { value: "sftp", label: "SFTP" },
  { value: "webdav", label: "WebDAV" },
];

// An SMB source keeps its connection in the instrument's v0 columns (cifs_host...).
export const SOURCE_FIELDS: Record<string, FieldSpec[]> = {
  cifs: [],
  local: [{ name: "path", label: "Directory", kind: "text", required: true, placeholder: "/data/instrument", description: "An absolute path on the StreamWeave server (local disk or NFS mount)" }],
  sftp: SFTP,
  s3: S3,
  webdav: WEBDAV,
};

export const SOURCE_TYPES = [
  { value: "cifs", label: "SMB / CIFS share" },
  { value: "local", label: "Local or NFS directory" },
  { value: "sftp", label: "SFTP" },
  { value: "s3", label: "S3" },
  { value: "webdav", label: "WebDAV" },
];

export const MASK = "****";

export type ConfigValues = Record<string, string | number | boolean>;

/** Form values for ``fields``, from a stored config (whose secrets come back masked). */
export function configToForm(fields: FieldSpec[], stored: Record<string, unknown> | undefined): ConfigValues {
  const values: ConfigValues = {};
  for (const field of fields) {
    const value = stored?.[field.name];
    if (field.kind === "secret" || field.name === "private_key") values[field.name] = "";
    else if (field.kind === "boolean") values[field.name] = Boolean(value ?? field.initial ?? false);
    else values[field.name] = (value as string | number | undefined) ?? field.initial ?? "";
  }
  return values;
}

/**
 * The config to send: empty optional fields left out, numbers as numbers, and a secret
 * left empty while one is stored sent as "****", which tells the server to keep it.
 */
export function formToConfig(
  fields: FieldSpec[],
  values: ConfigValues,
  stored: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.name];
    const secret = field.kind === "secret" || field.name === "private_key";
    if (secret && value === "" && stored?.[field.name] === MASK) config[field.name] = MASK;
    else if (field.kind === "boolean") config[field.name] = Boolean(value);
    else if (value === "" || value === undefined) continue;
    else if (field.kind === "number") config[field.name] = Number(value);
    else config[field.name] = typeof value === "string" ? value.trim() : value;
  }
  return config;
}

/** The error of each required field left empty (a stored secret counts as filled). */
export function missingFields(
  fields: FieldSpec[],
  values: ConfigValues,
  stored: Record<string, unknown> | undefined,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) {
    if (!field.required) continue;
    const value = values[field.name];
    const kept = field.kind === "secret" && stored?.[field.name] === MASK;
    if ((value === "" || value === undefined) && !kept) errors[field.name] = `${field.label} is required`;
  }
  return errors;
}
