// The public SDK surface: apps import only this module.
export { MogileClient } from "./client.ts";
export type { ClientOptions, PutOptions, PutResult, GetOptions, GetResult } from "./client.ts";
export type { ClassOptions, HostOptions, DeviceHost } from "./commands.ts";
export { MogileError, errorTexts, httpStatus } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export { DEVICE_STATES, HOST_STATES, HASH_TYPES, UNSUPPORTED_COMMANDS } from "./schemas.ts";
export type {
  Command, Request, Reply, Replies, DeviceInfo, HostInfo, ClassInfo, DomainInfo, DomainOptions, FileRow, Dest,
  DeviceStateName, HostStateName, ObservedState, HashType, KeyInfo, KeyScope, KeyAccess,
} from "./schemas.ts";
export { fidPath } from "./paths.ts";
export { findCredentials, NatsAuthError } from "./credentials.ts";
export type { CredentialOptions, NatsCredentials } from "./credentials.ts";
