/** Errors shown in the page with what to do about them. */
import { dismissError, useStore } from '../store';

export function Errors() {
  const errors = useStore((s) => s.errors);
  if (!errors.length) return null;
  return (
    <div className="errors" role="alert">
      {errors.map((e) => (
        <div key={e.id} className="error" data-testid="error">
          <strong>Something went wrong:</strong> {e.message}
          {e.hint && <div className="hint">{e.hint}</div>}
          <button type="button" onClick={() => dismissError(e.id)} aria-label="Dismiss this message">Dismiss</button>
        </div>
      ))}
    </div>
  );
}
