/**
 * The defense engine's public surface: run a defense ({@link runDefense}) and the types of its configuration,
 * events and result. Lower-level pieces (losses, inversion, detection) are importable from their own modules.
 */
export { DEFAULT_CONFIG, DEFENSE_METHODS, lrAt, needsTrigger, resolveConfig } from './config';
export type { DefenseConfig, DefenseConfigInput, DefenseMethod, DetectionConfig, DetectionScale, InversionConfig, InversionConvergence, LrSchedule } from './config';
export { isPresetName, PRESET_NAMES, presetConfig, PRESETS } from './presets';
export type { DefensePreset, PresetName } from './presets';
export { DefenseAbortError, isAbortError } from './control';
export type { AbortSignalLike } from './control';
export type * from './events';
export type { TrueTrigger } from './evaluate';
export { cloneModel, driveDefense, runDefense } from './run';
export type { DefenseDeps } from './run';
