/**
 * The page's offline copy: registers the Workbox service worker that the build generates (vite.config.ts,
 * `offline()`; the dev server has none, and registerSW is then a no-op) and tells the store what it did. A new
 * deploy's service worker installs on the next online visit and waits; the store's `offline` turns 'new-version'
 * and the page says so (components/UpdateNotice.tsx). The new version takes over when the visitor clicks Reload,
 * or on a later visit once every tab of the old one is closed, never in the middle of a run.
 */
/// <reference types="vite-plugin-pwa/vanillajs" />
import { registerSW } from 'virtual:pwa-register';
import { store } from './store';

let update: ((reload?: boolean) => Promise<void>) | undefined;

/** Registers the service worker (once, at start). */
export function startServiceWorker(): void {
  if (update || !('serviceWorker' in navigator)) return;
  update = registerSW({
    onOfflineReady: () => store.set((s) => (s.offline === 'none' ? { offline: 'offline-ready' } : {})),
    onNeedRefresh: () => store.set({ offline: 'new-version' }),
    onRegisterError: (e: unknown) => console.warn('the offline copy could not be set up (the page still works online):', e),
  });
}

/** Activates the waiting new version and reloads the page into it. */
export function reloadIntoNewVersion(): void {
  void update?.(true);
}
