/** Page entry: mounts the app and boots the engine. */
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { boot } from './controller';
import { startServiceWorker } from './serviceWorker';
import { settingsFromQuery } from './settings';
import { reportError, store } from './store';
import './styles.css';

window.addEventListener('unhandledrejection', (e) => reportError(e.reason));
window.addEventListener('error', (e) => reportError(e.error ?? e.message));
store.set({ settings: settingsFromQuery(location.search) });
createRoot(document.getElementById('root')!).render(
  <ErrorBoundary>
    <App />
  </ErrorBoundary>,
);
void boot();
startServiceWorker();
