/** Command-line argument helpers with clear usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage error: printed with the command's help and exit code 2. */
export class UsageError extends Error {}

/** parseArgs with strict checking, turning its errors into UsageErrors. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Requires a string option. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing required option --${flag}`);
  return value;
}

/** Parses an integer option within [min, max]. */
export function intOption(value: string | undefined, flag: string, def: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be an integer in [${min}, ${max}], got "${value}"`);
  return n;
}

/** Parses a number option within [min, max]. */
export function numOption(value: string | undefined, flag: string, def: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${flag} must be a number in [${min}, ${max}], got "${value}"`);
  return n;
}
