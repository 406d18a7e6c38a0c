/** The page: header with the backend badge, the model card and image strips, and the defense panels. */
import { BackendBadge } from './components/BackendBadge';
import { Errors } from './components/Errors';
import { ImageStrip } from './components/ImageStrip';
import { ModelCard } from './components/ModelCard';
import { useStore } from './store';

export function App() {
  const card = useStore((s) => s.card);
  const before = useStore((s) => s.stripBefore);
  const busy = useStore((s) => s.busy);
  return (
    <div className="app">
      <header>
        <h1>MCLDef Playground</h1>
        <p className="tagline">Remove a backdoor from an image classifier with 5% clean data, on your own GPU.</p>
        <BackendBadge />
      </header>
      <Errors />
      {busy && <p className="busy" role="status">{busy}…</p>}
      <main>
        <ModelCard />
        {card && before && <ImageStrip strip={before} classNames={card.classNames} target={card.target} caption="The backdoor at work (before defense)" />}
      </main>
    </div>
  );
}
