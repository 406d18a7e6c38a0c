/** Names the TF.js backend in use and the GPU adapter, and explains a fallback in plain words. */
import { useStore } from '../store';

export function BackendBadge() {
  const backend = useStore((s) => s.backend);
  const mode = useStore((s) => s.engineMode);
  const note = useStore((s) => s.engineNote);
  if (!backend) return <span className="badge">starting the engine…</span>;
  const webgpuSkip = backend.skipped.find((k) => k.name === 'webgpu');
  return (
    <span className={`badge badge-${backend.backend}`} title={backend.skipped.map((k) => `${k.name}: ${k.reason}`).join('\n')}>
      <strong data-testid="backend">{backend.backend}</strong>
      {backend.detail && <span className="badge-detail"> · {backend.detail}</span>}
      {mode === 'main-thread' && <span className="badge-detail"> · main thread ({note})</span>}
      {webgpuSkip && backend.backend !== 'webgpu' && (
        <span className="badge-note"> WebGPU unavailable ({webgpuSkip.reason}); running on {backend.backend}, which is slower but gives the same results.</span>
      )}
    </span>
  );
}
