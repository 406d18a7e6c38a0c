/**
 * The page, in the order a class follows it: the header with the backend badge, the story in four tiles, the model
 * card beside the controls, the backdoor at work, stage 1, stage 2, the result; choosing another model or data and
 * how it works come after.
 */
import { AttackLab } from './components/AttackLab';
import { BackendBadge } from './components/BackendBadge';
import { Controls } from './components/Controls';
import { DataPicker } from './components/DataPicker';
import { Errors } from './components/Errors';
import { HowItWorks } from './components/HowItWorks';
import { ImageStrip } from './components/ImageStrip';
import { InversionView } from './components/InversionView';
import { ModelCard } from './components/ModelCard';
import { ModelPicker } from './components/ModelPicker';
import { PurifyView } from './components/PurifyView';
import { ResultView } from './components/ResultView';
import { StoryBar } from './components/StoryBar';
import { UpdateNotice } from './components/UpdateNotice';
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
      <UpdateNotice />
      <Errors />
      {busy && <p className="busy" role="status">{busy}…</p>}
      <main>
        <StoryBar />
        <div className="top">
          <ModelCard />
          <Controls />
        </div>
        {card && before && <ImageStrip strip={before} classNames={card.classNames} target={card.target} caption="The backdoor at work (before defense)" />}
        <AttackLab />
        <InversionView />
        <PurifyView />
        <ResultView />
        <div className="top">
          <ModelPicker />
          <DataPicker />
        </div>
        <HowItWorks />
      </main>
      <footer className="muted">
        MCLDef: model-contrastive learning for backdoor defense (stage 1: Neural Cleanse trigger inversion; stage 2: contrastive purification).
        Everything runs in this page with TensorFlow.js; nothing is uploaded.
      </footer>
    </div>
  );
}
