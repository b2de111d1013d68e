// Helpers shared by command handlers.
import { MogileError } from "../../../protocol/errors.ts";

/** Duplicate-key errors from MongoDB (code 11000) become the given MogileFS code. */
export async function unlessDuplicate<T>(p: Promise<T>, code: ConstructorParameters<typeof MogileError>[0], message?: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) throw new MogileError(code, message);
    throw err;
  }
}
