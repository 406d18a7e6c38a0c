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

/** Parses an option that takes one of a few words ("--bn must be train or frozen, got ..."). */
export function choiceOption<T extends string>(value: string | undefined, flag: string, choices: readonly T[], def: T): T {
  if (value === undefined) return def;
  if (!(choices as readonly string[]).includes(value)) {
    const list = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}` : choices[0];
    throw new UsageError(`--${flag} must be ${list}, got "${value}"`);
  }
  return value as T;
}

/**
 * Options every command that loads a model takes: the input normalization of a PyTorch state_dict, and the class
 * names (a checkpoint carries none).
 */
export const MODEL_OPTIONS = { mean: { type: 'string' }, std: { type: 'string' }, classes: { type: 'string' } } as const;

/** Help lines for {@link MODEL_OPTIONS}. */
export const MODEL_OPTIONS_HELP = `  --mean R,G,B / --std R,G,B   input normalization of a PyTorch state_dict (default: the file's
               metadata, else CIFAR-10's 0.4914,0.4822,0.4465 / 0.2023,0.1994,0.2010)
  --classes A,B,...   the model's class names in label order (default: the model's manifest; else CIFAR-10's
               airplane,...,truck for a 10-class 32x32 model; else the data's sorted class folders, empty ones too)`;

/** The options of the commands that take the defender's clean data (purify, detect). */
export const CLEAN_OPTIONS = { clean: { type: 'string' }, 'clean-share': { type: 'string' }, seed: { type: 'string' }, batch: { type: 'string' } } as const;

/** The clean-data options parsed from {@link CLEAN_OPTIONS}. */
export function cleanOptions(values: { clean?: string; 'clean-share'?: string; seed?: string; batch?: string }): { cleanPath: string; share: number; seed: number; batch: number } {
  const cleanPath = required(values.clean, 'clean');
  const seed = intOption(values.seed, 'seed', 0, 0, 2 ** 32 - 1);
  const share = numOption(values['clean-share'], 'clean-share', 1, 0, 1);
  if (!(share > 0)) throw new UsageError('--clean-share must be in (0, 1]');
  const batch = intOption(values.batch, 'batch', 64, 1, 4096);
  return { cleanPath, share, seed, batch };
}

/** The options naming the true attack, to measure ASR (eval, purify). */
export const ATTACK_OPTIONS = { attack: { type: 'string' }, target: { type: 'string' }, trigger: { type: 'string' } } as const;

/**
 * The class names of --classes: comma-separated, distinct, as many as the model has outputs.
 * @returns undefined when the option is absent
 */
export function classesOption(value: string | undefined, numClasses: number): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim());
  if (names.length !== numClasses || names.some((n) => n === '') || new Set(names).size !== names.length) {
    throw new UsageError(`--classes must name the model's ${numClasses} classes once each, comma-separated, got ${names.length} name(s) in "${value.slice(0, 80)}"`);
  }
  return names;
}

function triple(value: string | undefined, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  const v = value.split(',').map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x)) || (flag === 'std' && v.some((x) => x <= 0))) {
    throw new UsageError(`--${flag} must be three ${flag === 'std' ? 'positive ' : ''}numbers R,G,B, got "${value}"`);
  }
  return v;
}

/** The model-loading options parsed from {@link MODEL_OPTIONS}. */
export function modelLoadOptions(values: { mean?: string; std?: string }): { mean?: number[]; std?: number[] } {
  return { mean: triple(values.mean, 'mean'), std: triple(values.std, 'std') };
}
