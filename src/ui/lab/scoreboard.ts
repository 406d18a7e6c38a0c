/**
 * The attack lab's scoreboard: one row per planted trigger (ASR / BA after planting, then after the defense),
 * kept in localStorage and exportable as CSV. Pure apart from the storage handed in.
 */

/** One planted trigger and how the defense did against it. */
export interface ScoreRow {
  id: number;
  date: string;
  /** "your trigger (12 px)", "BadNets", ... */
  trigger: string;
  /** The trigger in the page-address form, when small enough (lab/trigger.ts encodeTrigger). */
  code: string | null;
  target: number;
  rate: number;
  steps: number;
  plantedAsr: number;
  plantedBa: number;
  /** Filled in once a defense run on the planted model has finished. */
  defense: string | null;
  defendedAsr: number | null;
  defendedBa: number | null;
}

/** The localStorage key. */
export const SCOREBOARD_KEY = 'mcldef.attackLab.scoreboard';

/** What the scoreboard needs of a storage (localStorage fits). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The stored rows (an unreadable store reads as empty). */
export function loadScores(storage: StorageLike | null): ScoreRow[] {
  try {
    const raw = storage?.getItem(SCOREBOARD_KEY);
    const rows = raw ? (JSON.parse(raw) as unknown) : [];
    return Array.isArray(rows) ? (rows.filter((r) => r && typeof r === 'object' && typeof (r as ScoreRow).id === 'number') as ScoreRow[]) : [];
  } catch {
    return [];
  }
}

/** Stores the rows (a full or missing storage is ignored: the scoreboard is a convenience). */
export function saveScores(storage: StorageLike | null, rows: ScoreRow[]): void {
  try {
    storage?.setItem(SCOREBOARD_KEY, JSON.stringify(rows));
  } catch {
    // quota exceeded or storage disabled: keep the rows in memory only
  }
}

/** Fills in the defense's figures on the newest row still waiting for them. */
export function withDefense(rows: ScoreRow[], defense: string, asr: number | null, ba: number | null): ScoreRow[] {
  const i = rows.map((r) => r.defense === null).lastIndexOf(true);
  if (i < 0) return rows;
  return rows.map((r, j) => (j === i ? { ...r, defense, defendedAsr: asr, defendedBa: ba } : r));
}

const CSV_COLUMNS: Array<keyof ScoreRow> = ['date', 'trigger', 'code', 'target', 'rate', 'steps', 'plantedAsr', 'plantedBa', 'defense', 'defendedAsr', 'defendedBa'];

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'number' ? String(Number(v.toFixed(6))) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows as CSV (header first; rates as fractions in [0, 1]). */
export function scoresCsv(rows: ScoreRow[]): string {
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((k) => csvCell(r[k])).join(','))].join('\n') + '\n';
}
