/**
 * CLI tests: hostile inputs through the commands (called in-process, except Ctrl-C, which needs a real process),
 * and the class folder rule of defect 9 (every class sub-folder counts, CIFAR-10's names for a 10-class 32x32
 * checkpoint, --classes).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runConvert } from '../../src/cli/commands/convert';
import { runDetect } from '../../src/cli/commands/detect';
import { runEval } from '../../src/cli/commands/eval';
import { runPurify } from '../../src/cli/commands/purify';
import { CIFAR10_CLASSES } from '../../src/engine/data/cifar10';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { saveModel, saveStateDict } from '../../src/platform/node/modelFiles';
import { repoRoot } from '../helpers/fixtures';
import { writePng } from '../helpers/images';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-cli-hostile-'));
const modelDir = path.join(tmp, 'model'); // 3 classes, 8x8
const cifarPth = path.join(tmp, 'cifar.pth'); // 10 classes, 32x32, no manifest
const clean = path.join(tmp, 'clean');

beforeAll(async () => {
  await initNodeBackend('cpu');
  const m = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 1);
  await saveModel(m, modelDir);
  m.dispose();
  const c = buildWrn({ ...WRN_16_1, depth: 10 }, 2);
  await saveStateDict(c, cifarPth);
  c.dispose();
  for (const [i, cls] of ['cat', 'dog', 'frog'].entries()) for (let k = 0; k < 2; k++) writePng(path.join(clean, cls, `${k}.png`), 8, i * 10 + k);
});

/** Runs a command in-process; resolves to what it printed on stdout, or rejects with its error. */
async function run(cmd: (argv: string[]) => Promise<void>, ...argv: string[]): Promise<string> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await cmd(argv);
    return [...log.mock.calls, ...out.mock.calls].map((c) => String(c[0])).join('\n');
  } finally {
    log.mockRestore();
    out.mockRestore();
    err.mockRestore();
  }
}

const purifyArgs = (out: string, ...more: string[]) => ['--model', modelDir, '--clean', clean, '--test', clean, '--out', out, '--target', '1', '--epochs', '1', '--inv-epochs', '1', '--batch', '4', '--eval-size', '0', ...more];

describe('class folders (defect 9)', () => {
  it('a 10-class 32x32 checkpoint gets CIFAR-10\'s names: a folder whose only non-empty class is dog is class 5', async () => {
    const data = path.join(tmp, 'only-dog');
    for (const c of CIFAR10_CLASSES) fs.mkdirSync(path.join(data, c), { recursive: true });
    for (let k = 0; k < 2; k++) writePng(path.join(data, 'dog', `${k}.png`), 32, k);
    const res = JSON.parse(await run(runEval, '--model', cifarPth, '--data', data, '--json'));
    expect(Object.keys(res.perClass)).toEqual([...CIFAR10_CLASSES]);
    expect(res.nClean).toBe(2);
    expect(res.ba).toBe(res.perClass.dog); // the two images are scored as dogs (class 5), not as class 0
  });

  it('other models: every class sub-folder counts in sorted order, empty ones too; --classes names them', async () => {
    const data = path.join(tmp, 'ant-bee-dog');
    for (const c of ['ant', 'bee']) fs.mkdirSync(path.join(data, c), { recursive: true });
    for (let k = 0; k < 2; k++) writePng(path.join(data, 'dog', `${k}.png`), 8, k);
    const res = JSON.parse(await run(runEval, '--model', modelDir, '--data', data, '--json'));
    expect(Object.keys(res.perClass)).toEqual(['ant', 'bee', 'dog']);
    expect(res.ba).toBe(res.perClass.dog);
    const named = JSON.parse(await run(runEval, '--model', modelDir, '--data', data, '--classes', 'ant,bee,dog', '--json'));
    expect(named.perClass).toEqual(res.perClass);
    await expect(run(runEval, '--model', modelDir, '--data', data, '--classes', 'a,b')).rejects.toThrow(/^--classes must name the model's 3 classes once each/);
  });
});

describe('--out checked before any work', () => {
  it('an existing file, /proc/x: refused before the model or data are read', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    const missing = path.join(tmp, 'no-such-data');
    await expect(run(runPurify, ...purifyArgs(file).map((a) => (a === clean ? missing : a)))).rejects.toThrow(/^--out .*a-file exists and is not a folder/);
    await expect(run(runPurify, ...purifyArgs('/proc/x').map((a) => (a === clean ? missing : a)))).rejects.toThrow(/^cannot create --out \/proc\/x/);
    await expect(run(runDetect, '--model', path.join(tmp, 'no-model'), '--clean', missing, '--out', file)).rejects.toThrow(/exists and is not a folder/);
    await expect(run(runConvert, '--model', path.join(tmp, 'no-model'), '--out', '/proc/x')).rejects.toThrow(/^cannot create --out \/proc\/x/);
    await expect(run(runConvert, '--model', path.join(tmp, 'no-model'), '--out', '/proc/x/y.pth')).rejects.toThrow(/^cannot create the folder of --out \/proc\/x: ENOENT/);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('purify --inverted: trigger.json validated before the run', () => {
  const trigger = (over: Record<string, unknown>) => {
    const f = path.join(tmp, `trigger-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(f, JSON.stringify({ target: 1, height: 8, width: 8, channels: 3, mask: new Array(64).fill(0.1), pattern: new Array(192).fill(0.5), ...over }));
    return f;
  };
  it.each([
    ['a mask of strings', { mask: new Array(64).fill('a') }, /mask\[0\] is "a", expected a number in \[0, 1\]/],
    ['a mask of 1e308', { mask: new Array(64).fill(1e308) }, /mask\[0\] is 1e\+308, expected a number in \[0, 1\]/],
    ['a short pattern', { pattern: [0.5] }, /pattern has 1 values, expected 192/],
    ['another input size', { height: 4, mask: new Array(32).fill(0.1), pattern: new Array(96).fill(0.5) }, /the trigger is 4x8x3 but the model takes 8x8x3 images/],
    ['a target outside the model', { target: 7 }, /target 7 is not a class of this 3-class model/],
  ])('%s is refused and nothing is written', async (_name, over, message) => {
    const out = path.join(tmp, `out-${Math.random().toString(36).slice(2)}`);
    await expect(run(runPurify, ...purifyArgs(out, '--inverted', trigger(over)))).rejects.toThrow(message);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a trigger.json without maskL1 works; a symlink planted at OUT/report.json is replaced, not followed', async () => {
    const out = path.join(tmp, 'out-link');
    fs.mkdirSync(out);
    const victim = path.join(tmp, 'victim.txt');
    fs.writeFileSync(victim, 'keep me');
    fs.symlinkSync(victim, path.join(out, 'report.json'));
    const printed = await run(runPurify, ...purifyArgs(out, '--inverted', trigger({})));
    expect(printed).toMatch(/trigger {2}mask L1 6\.40/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    expect(fs.lstatSync(path.join(out, 'report.json')).isSymbolicLink()).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).command).toBe('purify');
    expect(fs.readdirSync(out).sort()).toEqual(['manifest.json', 'model.json', 'report.json', 'trigger.json', 'weights.bin']);
  });
});

describe('Ctrl-C', () => {
  it.each([
    ['purify', 'inversion', '--inv-epochs'],
    ['purify', 'purification', '--epochs'],
    ['detect', 'detection', '--epochs'],
  ])('SIGINT during %s\'s %s stops the run: a message, exit 130, nothing written', async (command, stage, flag) => {
    const out = path.join(tmp, `interrupted-${stage}`);
    const args = command === 'purify' ? purifyArgs(out) : ['--model', modelDir, '--clean', clean, '--out', out, '--epochs', '1', '--batch', '4'];
    args[args.indexOf(flag) + 1] = '100000';
    if (stage === 'purification') {
      const t = path.join(tmp, 'trigger-for-sigint.json');
      fs.writeFileSync(t, JSON.stringify({ target: 1, height: 8, width: 8, channels: 3, mask: new Array(64).fill(0.1), pattern: new Array(192).fill(0.5) }));
      args.push('--inverted', t);
    }
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'mcldef.js'), command, ...args], { env: { ...process.env, MCLDEF_BACKEND: 'cpu' } });
    let err = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!sent && /class \d+ (loss|L1)|epoch 0 lr/.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    // A run that ignores Ctrl-C would go on for hours: kill it after a minute so the test fails instead of hanging.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(guard);
    expect(sent).toBe(true);
    expect(err).toMatch(new RegExp(`mcldef ${command}: interrupted \\(Ctrl-C\\); nothing was written`));
    expect(code).toBe(130);
    expect(fs.existsSync(out)).toBe(false);
  }, 120_000);
});
