/**
 * `npm run bench:table` on a tiny zoo (one WRN-10 on 8x8 images, BadNets-stamped test set) with tiny settings:
 * every requested cell is measured and written (table.json, table.md), stage 1 runs once and is shared, a re-run
 * resumes without redoing finished cells, and results made with other settings are never mixed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runTableBench } from '../../src/cli/bench/tableBench';
import { renderTable } from '../../src/cli/bench/tableFormat';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { saveModel } from '../../src/platform/node/modelFiles';
import { writePng } from '../helpers/images';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-table-'));
const zoo = path.join(tmp, 'models', 'index.json');
const dataDir = path.join(tmp, 'data');
const out = path.join(tmp, 'bench');

beforeAll(async () => {
  await initNodeBackend('cpu');
  const model = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 1);
  await saveModel(model, path.join(tmp, 'models', 'tiny'));
  model.dispose();
  const manifest = { name: 'tiny', target: 1, attack: { name: 'badnets', title: 'BadNets' }, classNames: ['cat', 'dog', 'frog'] };
  fs.writeFileSync(path.join(tmp, 'models', 'tiny', 'manifest.json'), JSON.stringify(manifest));
  const index = { default: 'tiny', models: [{ name: 'tiny', attack: 'badnets', target: 1, path: 'models/tiny/' }, { name: 'ref', attack: 'clean', path: 'models/ref/' }] };
  fs.writeFileSync(zoo, JSON.stringify(index));
  for (const [c, cls] of ['cat', 'dog', 'frog'].entries()) for (let k = 0; k < 3; k++) writePng(path.join(dataDir, cls, `${k}.png`), 8, c * 10 + k);
});

const args = (...more: string[]) => ['--zoo', zoo, '--clean', dataDir, '--test', dataDir, '--out', out, '--epochs', '1', '--inv-epochs', '1', '--max-steps', '1', '--eval-size', '6', ...more];

describe('bench:table', () => {
  it('measures each cell, shares stage 1, writes JSON + Markdown, and resumes', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const r = (await runTableBench(args('--methods', 'ft,nc,mcldef')))!;
      expect(Object.keys(r.models)).toEqual(['tiny']); // the clean reference model is not benchmarked
      expect(Object.keys(r.cells).sort()).toEqual(['tiny/ft', 'tiny/mcldef', 'tiny/nc']);
      for (const cell of Object.values(r.cells)) {
        expect(cell.after.ba).toBeGreaterThanOrEqual(0);
        expect(cell.after.ba).toBeLessThanOrEqual(1);
        expect(cell.stages.map((s) => s.stage)).toEqual(['purify']); // stage 1 is the model's, not the cell's
      }
      expect(r.models.tiny.stage1?.epochs).toBe(1);
      expect(r.paperSettings).toBe(false);
      const md = fs.readFileSync(path.join(out, 'table.md'), 'utf8');
      expect(md).toContain("NOT the paper's");
      expect(md).toMatch(/\| BadNets \(tiny\) \| [\d.]+ \/ [\d.]+ \| [\d.]+ \/ [\d.]+ \| not run \| [\d.]+ \/ [\d.]+ \| [\d.]+ \/ [\d.]+ \| not run \|/);
      expect(md).toContain('stage 1 (shared)');
      expect(JSON.parse(fs.readFileSync(path.join(out, 'table.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
      expect(fs.existsSync(path.join(out, 'triggers', 'tiny.json'))).toBe(true);

      // Resume: finished cells are kept as they are; only the new method runs, reusing the saved trigger.
      const again = (await runTableBench(args('--methods', 'ft,mcldef+')))!;
      expect(again.cells['tiny/ft']).toEqual(r.cells['tiny/ft']);
      expect(again.cells['tiny/mcldef+'].stages.map((s) => s.stage)).toEqual(['purify', 'correct']);
      expect(again.models.tiny.stage1).toEqual(r.models.tiny.stage1);
      expect(renderTable(again)).toContain('MCLDef+');
    } finally {
      err.mockRestore();
    }
  }, 120_000);

  it('keeps cells another bench process wrote to the same folder meanwhile', async () => {
    const file = path.join(out, 'table.json');
    // Stands in for a second process (another --methods split) finishing a cell while this one runs.
    const otherCell = { after: { ba: 0.5, asr: 0.25 }, stages: [{ stage: 'purify', seconds: 1, images: 6 }], seconds: 1, date: '2026-01-01T00:00:00.000Z' };
    let injected = false;
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const log = vi.spyOn(console, 'error').mockImplementation((msg) => {
      if (!injected && String(msg).startsWith('tiny: before')) {
        const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
        onDisk.cells['tiny/other'] = otherCell;
        fs.writeFileSync(file, JSON.stringify(onDisk));
        injected = true;
      }
    });
    try {
      const r = (await runTableBench(args('--methods', 'nad')))!;
      expect(injected).toBe(true);
      expect(Object.keys(r.cells).sort()).toEqual(['tiny/ft', 'tiny/mcldef', 'tiny/mcldef+', 'tiny/nad', 'tiny/nc', 'tiny/other']);
      const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(onDisk.cells['tiny/other']).toEqual(otherCell);
      expect(onDisk.cells['tiny/nad']).toEqual(JSON.parse(JSON.stringify(r.cells['tiny/nad'])));
      expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      err.mockRestore();
      log.mockRestore();
    }
  }, 120_000);

  it('--fresh starts over: earlier cells and triggers are gone', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const r = (await runTableBench(args('--methods', 'ft', '--fresh')))!;
      expect(Object.keys(r.cells)).toEqual(['tiny/ft']);
      expect(Object.keys(JSON.parse(fs.readFileSync(path.join(out, 'table.json'), 'utf8')).cells)).toEqual(['tiny/ft']);
      expect(fs.existsSync(path.join(out, 'triggers', 'tiny.json'))).toBe(false);
    } finally {
      err.mockRestore();
      log.mockRestore();
    }
  }, 120_000);

  it('refuses to mix settings, and names unknown models and methods', async () => {
    await expect(runTableBench(args('--epochs', '2'))).rejects.toThrow(/other settings/);
    await expect(runTableBench(args('--models', 'nope'))).rejects.toThrow(/"nope" is not a shipped backdoored model \(have tiny\)/);
    await expect(runTableBench(args('--methods', 'ft,xx'))).rejects.toThrow(/"xx" is not one of/);
  });
});
