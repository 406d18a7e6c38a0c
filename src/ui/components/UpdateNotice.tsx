/** The "new version" notice: a deploy newer than this page has been downloaded and waits for a reload. */
import { reloadIntoNewVersion } from '../serviceWorker';
import { useStore } from '../store';

export function UpdateNotice() {
  const offline = useStore((s) => s.offline);
  const running = useStore((s) => s.run !== null && s.run.status === 'running');
  if (offline !== 'new-version') return null;
  return (
    <div className="update-notice" role="status" data-testid="new-version">
      <strong>A new version of this page is available.</strong> It has been downloaded; reload to use it
      {running ? ' (after this run: reloading now would stop it)' : ''}.{' '}
      <button type="button" onClick={reloadIntoNewVersion} data-testid="new-version-reload">Reload</button>
    </div>
  );
}
