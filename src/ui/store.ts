/**
 * The page's state: one framework-free store (subscribe / getState / set) with a thin React hook on top, so
 * panels re-render only for the slice they read.
 */
import { useSyncExternalStore } from 'react';
import type { BackendReport } from '../platform/selectBackend';
import type { DataSummary, ModelCard, QuickEval, StripResult } from '../worker/protocol';

/** Everything the page shows. */
export interface AppState {
  phase: 'starting' | 'ready' | 'failed';
  backend: BackendReport | null;
  engineMode: 'worker' | 'main-thread' | null;
  engineNote: string;
  card: ModelCard | null;
  clean: DataSummary | null;
  evalData: DataSummary | null;
  stripBefore: StripResult | null;
  stripAfter: StripResult | null;
  evalBefore: QuickEval | null;
  /** Messages for the person using the page: what went wrong and what to do. */
  errors: Array<{ id: number; message: string; hint?: string }>;
  busy: string | null;
}

const initial: AppState = {
  phase: 'starting',
  backend: null,
  engineMode: null,
  engineNote: '',
  card: null,
  clean: null,
  evalData: null,
  stripBefore: null,
  stripAfter: null,
  evalBefore: null,
  errors: [],
  busy: null,
};

type Listener = () => void;

/** A minimal external store. */
export class Store<S> {
  private listeners = new Set<Listener>();
  constructor(private state: S) {}
  getState = (): S => this.state;
  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  set(patch: Partial<S> | ((s: S) => Partial<S>)): void {
    const p = typeof patch === 'function' ? patch(this.state) : patch;
    this.state = { ...this.state, ...p };
    for (const l of this.listeners) l();
  }
}

/** The page's one store. */
export const store = new Store<AppState>(initial);

let errorId = 0;

/** Shows an error in the page (never only in the console). */
export function reportError(e: unknown, hint?: string): void {
  const message = e instanceof Error ? e.message : String(e);
  console.error(e);
  store.set((s) => ({ errors: [...s.errors, { id: ++errorId, message, hint }] }));
}

/** Removes a shown error. */
export function dismissError(id: number): void {
  store.set((s) => ({ errors: s.errors.filter((e) => e.id !== id) }));
}

/** Subscribes a component to one slice of the state. */
export function useStore<T>(select: (s: AppState) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}
