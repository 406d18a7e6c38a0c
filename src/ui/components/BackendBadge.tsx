/**
 * Names the TF.js backend in use and what it runs on, and why it was chosen: the measured training rates of the
 * candidates (a software GPU is named as such), or why a preferred one could not start.
 */
import { useStore } from '../store';

export function BackendBadge() {
  const backend = useStore((s) => s.backend);
  const mode = useStore((s) => s.engineMode);
  const note = useStore((s) => s.engineNote);
  if (!backend) return <span className="badge">timing this device's backends…</span>;
  const webgpuSkip = backend.skipped.find((k) => k.name === 'webgpu');
  return (
    <span className={`badge badge-${backend.backend}`} title={backend.skipped.map((k) => `${k.name}: ${k.reason}`).join('\n')}>
      <strong data-testid="backend">{backend.backend}</strong>
      {backend.detail && <span className="badge-detail"> · {backend.detail}</span>}
      {mode === 'main-thread' && <span className="badge-detail"> · main thread ({note})</span>}
      {backend.why ? (
        <span className="badge-note" data-testid="backend-why">{backend.why}.</span>
      ) : (
        webgpuSkip && backend.backend !== 'webgpu' && (
          <span className="badge-note"> WebGPU unavailable ({webgpuSkip.reason}); running on {backend.backend}, which is slower but gives the same results.</span>
        )
      )}
    </span>
  );
}
