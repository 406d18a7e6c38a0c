/**
 * The parts of a defense run, in the order they can happen. A leaf module (imports nothing), so the plan
 * (plan.ts) and the events (events.ts) can both name stages without importing each other.
 */
export type DefenseStage = 'evaluate' | 'detect' | 'invert' | 'teacher' | 'purify' | 'correct';
