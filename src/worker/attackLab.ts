/**
 * The attack lab's requests ('plant', 'plantControl') for the engine host: plants into the host's original model
 * on the attacker's images (loaded once per URL), measures on the host's evaluation set, and hands the planted
 * model back to the host (`adopt`), which makes it the page's model with its attack and target known.
 */
import type * as tf from '@tensorflow/tfjs';
import type { PlantEvent, PlantSummary } from '../engine/attacks/plantConfig';
import type { Attack } from '../engine/attacks/types';
import type { Dataset } from '../engine/data/dataset';
import { eventTransfers } from './transfers';
import { loadAttackerData, PlantRunner, triggerAttack } from './plantRunner';
import type { ModelCard, PlantRequest, Rpc, WorkerMessage } from './protocol';

/** What the lab needs of the host. */
export interface LabHost {
  post: (msg: WorkerMessage, transfer?: Transferable[]) => void;
  /** The page's original model and evaluation set (throw a clear message when not loaded). */
  model: () => tf.LayersModel;
  evalSet: () => Dataset;
  /** True while a defense runs (planting waits for none: it refuses). */
  defenseRunning: () => boolean;
  /** Makes `planted` the page's model; resolves to its card, or null when the page moved on meanwhile. */
  adopt: (planted: tf.LayersModel, facts: { title: string; attack: Attack; attackName: string; target: number; summary: PlantSummary; base: tf.LayersModel }) => Promise<ModelCard | null>;
}

/** The lab's state inside the host. */
export class AttackLab {
  private runner: PlantRunner | null = null;
  private runCounter = 0;
  private data: { key: string; ds: Dataset } | null = null;

  constructor(private readonly host: LabHost) {}

  /** True while a planting runs or is paused. */
  running(): boolean {
    return this.runner !== null && (this.runner.status === 'running' || this.runner.status === 'paused');
  }

  /** Starts a planting; returns at once (events follow). */
  async plant(req: PlantRequest): Promise<Rpc['plant'][1]> {
    if (this.running()) throw new Error('a backdoor is already being planted: cancel it first');
    if (this.host.defenseRunning()) throw new Error('a defense is running: cancel it before planting');
    const model = this.host.model();
    const evalSet = this.host.evalSet();
    const [, h, w] = model.inputs[0].shape as number[];
    const attack = triggerAttack(req.trigger, h, w);
    const key = req.data.kind === 'url' ? req.data.url : `bytes:${req.data.name}:${req.data.bytes.byteLength}`;
    if (this.data?.key !== key) this.data = { key, ds: await loadAttackerData(req.data) };
    const train = this.data.ds;
    const runId = ++this.runCounter;
    // On 'done' the end message carries the planted model's card (the finish callback below fills it first).
    let card: ModelCard | null = null;
    let summary: PlantSummary | undefined;
    const runner = new PlantRunner(
      runId,
      (event: PlantEvent) => this.host.post({ type: 'plant-event', runId, event }, eventTransfers(event)),
      (m) => this.host.post(m.status === 'done' ? { ...m, card: card ?? undefined, summary } : m),
    );
    this.runner = runner;
    const attackName = req.trigger.kind === 'named' ? req.trigger.name : 'mask';
    void runner.run(req.config, { model, train, evalSet, attack }, async (planted, s) => {
      if (this.runner !== runner) return false;
      summary = s;
      card = await this.host.adopt(planted, { title: req.title, attack, attackName, target: s.config.target, summary: s, base: model });
      return card !== null;
    });
    return { runId };
  }

  /** pause / resume / cancel of the planting in progress. */
  control(action: 'pause' | 'resume' | 'cancel'): Rpc['plantControl'][1] {
    return { status: this.runner ? this.runner.control(action) : 'idle' };
  }
}
