// The public SDK surface: apps import only this module.
export { MogileClient } from "./client.ts";
export type { ClientOptions, PutOptions, PutResult, GetOptions, GetResult } from "./client.ts";
export { MogileError, errorTexts, httpStatus } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export type { Command, Request, Reply, DeviceInfo, HostInfo, Dest } from "./schemas.ts";
export { fidPath } from "./paths.ts";
