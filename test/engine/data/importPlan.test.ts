/** Import planning (class folders, labels files, class ids, caps, warnings) and the shared resizer. */
import { describe, expect, it } from 'vitest';
import { planImport } from '../../../src/engine/data/importPlan';
import { resizeToRgb } from '../../../src/engine/data/resize';

const CIFAR = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

describe('planImport', () => {
  it('class folders under any top folder; model class names give the ids; non-images and hidden files skipped', () => {
    const paths = ['pick/dog/b.png', 'pick/dog/a.jpg', 'pick/cat/x.jpeg', 'pick/cat/notes.txt', 'pick/.DS_Store', '__MACOSX/cat/._x.jpeg'];
    const p = planImport(paths, { modelClassNames: CIFAR, numClasses: 10 });
    expect(p.classNames).toEqual(CIFAR);
    expect(p.items).toEqual([{ index: 2, label: 3 }, { index: 1, label: 5 }, { index: 0, label: 5 }]);
    expect(p.counts[3]).toBe(1);
    expect(p.counts[5]).toBe(2);
    expect(p.skipped.map((s) => s.path)).toEqual(['pick/cat/notes.txt', 'pick/.DS_Store', '__MACOSX/cat/._x.jpeg']);
    expect(p.warnings.join(' ')).toMatch(/no images of classes airplane, automobile, bird, deer, frog, horse, ship, truck/);
    expect(p.warnings.join(' ')).toMatch(/skipped 3 file/);
  });

  it('integer folders are ids; other names are sorted; more classes than the model is an error', () => {
    expect(planImport(['2/a.png', '0/b.png'], { numClasses: 3 }).items.map((i) => i.label)).toEqual([0, 2]);
    const named = planImport(['zebra/a.png', 'ant/b.png', 'ant/c.png', 'ant/d.png'], { numClasses: 2 });
    expect(named.classNames).toEqual(['ant', 'zebra']);
    expect(named.warnings.join(' ')).toMatch(/unbalanced classes: 3 images of ant but 1 of zebra/);
    expect(() => planImport(['a/1.png', 'b/1.png', 'c/1.png'], { numClasses: 2 })).toThrow(/3 classes \(a, b, c\) but the model has 2/);
    expect(() => planImport(['7/1.png'], { numClasses: 3 })).toThrow(/class 7 does not exist: the model has 3 classes/);
  });

  it('a flat set with a labels file (names or ids, header skipped, unlabeled images skipped)', () => {
    const p = planImport(['x/img1.png', 'x/img2.png', 'x/img3.png', 'x/labels.csv'], { labelsText: 'file,label\nimg1.png,dog\nimg2.png, 3\n', modelClassNames: CIFAR });
    expect(p.items).toEqual([{ index: 1, label: 3 }, { index: 0, label: 5 }].sort((a, b) => a.label - b.label));
    expect(p.skipped).toEqual([{ path: 'x/img3.png', reason: 'not in the labels file' }]);
    expect(() => planImport(['a.png'], { labelsText: 'garbage' })).toThrow(/line 1: expected "<file name>,<label>"/);
  });

  it('empty class folders count, in sorted order (ImageFolder): the only non-empty class "dog" is not class 0', () => {
    const p = planImport(['set/dog/1.png', 'set/dog/2.png'], { dirs: ['set', 'set/ant', 'set/bee', 'set/dog', 'set/dog/sub', 'set/.hidden'], numClasses: 3 });
    expect(p.classNames).toEqual(['ant', 'bee', 'dog']);
    expect(p.items.map((i) => i.label)).toEqual([2, 2]);
    expect(p.warnings.join(' ')).toMatch(/no images of classes ant, bee/);
    // Without the folder list (a browser's picked files), only the folders with images are known.
    expect(planImport(['set/dog/1.png'], { numClasses: 3 }).items[0].label).toBe(0);
  });

  it('a labels file is read as CSV: spaces and quoted commas inside names, ";" or tab separators, trailing separators', () => {
    const files = ['img 1.png', 'b,2.png', 'c.png'];
    const p = planImport(files, { labelsText: 'file,label\nimg 1.png,hot dog\n"b,2.png","cat, striped"\n c.png , "say ""hi"""\n' });
    expect(p.classNames).toEqual(['cat, striped', 'hot dog', 'say "hi"']);
    expect(p.items.map((it) => [files[it.index], it.label])).toEqual([['b,2.png', 0], ['img 1.png', 1], ['c.png', 2]]);
    expect(planImport(['a.png', 'b.png'], { labelsText: 'a.png;my cat\nb.png;dog;\n' }).classNames).toEqual(['dog', 'my cat']);
    expect(planImport(['a.png', 'b.png'], { labelsText: 'a.png\t1\nb.png\t0\n' }).counts).toEqual([1, 1]);
    expect(planImport(['a.png', 'b.png'], { labelsText: 'a.png 1\nb.png 0\n' }).counts).toEqual([1, 1]);
    expect(() => planImport(['a.png'], { labelsText: 'a.png,"cat\n' })).toThrow(/^labels file, line 1: a quoted field is not closed/);
    expect(() => planImport(['a.png'], { labelsText: 'a.png,cat,dog\n' })).toThrow(/^labels file, line 1: expected "<file name>,<label>" .*got 3 field\(s\) in "a\.png,cat,dog"/);
    expect(() => planImport(['a.png'], { labelsText: 'a.png,\n' })).toThrow(/got an empty field/);
  });

  it('paths with ".." or a root are refused as unsafe, said apart from hidden files', () => {
    const p = planImport(['cat/a.png', 'dog/b.png', '../../evil/x.png', 'cat/../../y.png', '/abs/cat/z.png', 'C:\\w\\cat\\v.png', 'cat/.hidden.png']);
    expect(p.items.length).toBe(2);
    expect(p.skipped.filter((x) => x.reason === 'refused: an unsafe path (".." or absolute)').map((x) => x.path)).toEqual(['../../evil/x.png', 'cat/../../y.png', '/abs/cat/z.png', 'C:\\w\\cat\\v.png']);
    expect(p.warnings).toContain('refused 4 file(s) with unsafe paths (".." or absolute, as in a zip made to write outside its folder), e.g. "../../evil/x.png"; they were not read');
    expect(p.warnings).toContain('skipped 1 file(s), e.g. "cat/.hidden.png" (hidden file)');
    expect(() => planImport(['../x.png'])).toThrow(/no images among the 1 file\(s\) \(expected .*; e\.g\. "\.\.\/x\.png" was refused: an unsafe path/);
  });

  it('labels that are not class names are refused with their line; formulas too; missing files are reported', () => {
    const files = ['a.png', 'b.png', 'c.png'];
    expect(() => planImport(files, { labelsText: 'file,label\na.png,cat\n\nb.png,dgo\n', modelClassNames: CIFAR })).toThrow(
      /^labels file, line 4: "dgo" is not a class of the model \(airplane, .*, truck\); use those names or the indices 0-9$/,
    );
    expect(() => planImport(files, { labelsText: 'a.png,cat\nb.png,=cmd|\'/Ccalc\'!A0\n', modelClassNames: CIFAR })).toThrow(
      /^labels file, line 2: the class "=cmd\|'\/Ccalc'!A0" is not a class name \(it looks like a spreadsheet formula\)/,
    );
    expect(() => planImport(files, { labelsText: 'a.png,@SUM(1)\n' })).toThrow(/line 1: the class "@SUM\(1\)" is not a class name/);
    // The whole label is checked: a formula with spaces is not cut down to its last word ("calc'!A0").
    expect(() => planImport(files, { labelsText: "a.png,cat\nb.png,=cmd|' /C calc'!A0\n", modelClassNames: CIFAR })).toThrow(
      /^labels file, line 2: the class "=cmd\|' \/C calc'!A0" is not a class name \(it looks like a spreadsheet formula\)/,
    );
    expect(() => planImport(files, { labelsText: "a.png,=cmd|' /C calc'!A0\n" })).toThrow(/line 1: the class "=cmd\|' \/C calc'!A0" is not a class name/);
    expect(() => planImport(files, { labelsText: "a.png =cmd|' /C calc'!A0\n" })).toThrow(
      /^labels file, line 1: expected "<file name>,<label>" \(two fields separated by a space; double quotes around a field that holds one\), got 4 field\(s\)/,
    );
    const p = planImport(files, { labelsText: 'a.png,cat\nb.png,dog\ngone.png,cat\nalso-gone.png,dog\n', modelClassNames: CIFAR });
    expect(p.warnings.join(' ')).toMatch(/2 image\(s\) listed in the labels file are missing, e\.g\. "gone\.png" \(line 3\)/);
    // A folder that is not a class of the model, beside ones that are.
    expect(() => planImport(['cat/1.png', 'dgo/2.png'], { modelClassNames: CIFAR })).toThrow(/^folder "dgo": "dgo" is not a class of the model/);
  });

  it('clear errors: no files, no images, images outside class folders, too many images', () => {
    expect(() => planImport([])).toThrow(/no files/);
    expect(() => planImport(['readme.md', 'data.bin'])).toThrow(/no images among the 2 file\(s\).*"readme.md" is not one/);
    expect(() => planImport(['a.png', 'cat/b.png'])).toThrow(/"a.png" is not inside a class folder/);
    const many = Array.from({ length: 10_001 }, (_, i) => `cat/${i}.png`);
    expect(() => planImport(many)).toThrow(/10,001 images: at most 10,000/);
    expect(planImport(many.slice(0, 10_000)).items.length).toBe(10_000);
  });
});

describe('resizeToRgb', () => {
  it('keeps same-size RGB, drops alpha, replicates gray', () => {
    expect(Array.from(resizeToRgb([1, 2, 3, 255, 4, 5, 6, 255], 1, 2, 4, 1, 2))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(resizeToRgb([7, 9], 1, 2, 1, 1, 2))).toEqual([7, 7, 7, 9, 9, 9]);
  });
  it('shrinks by area averaging and enlarges bilinearly', () => {
    // 4x4 gray -> 2x2: each output is the mean of a 2x2 block.
    const src = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150];
    expect(Array.from(resizeToRgb(src, 4, 4, 1, 2, 2)).filter((_, i) => i % 3 === 0)).toEqual([25, 45, 105, 125]);
    // 3 -> 2 columns: fractional coverage (1, 0.5) / 1.5.
    expect(Array.from(resizeToRgb([0, 30, 60], 1, 3, 1, 1, 2)).filter((_, i) => i % 3 === 0)).toEqual([10, 50]);
    // 2 -> 4 columns, centres aligned: 0, 0.25, 0.75, 1 of the way.
    expect(Array.from(resizeToRgb([0, 100], 1, 2, 1, 1, 4)).filter((_, i) => i % 3 === 0)).toEqual([0, 25, 75, 100]);
  });
  it('names bad geometry', () => {
    expect(() => resizeToRgb([1, 2], 1, 1, 2, 1, 1)).toThrow(/2 channels/);
    expect(() => resizeToRgb([1, 2, 3], 2, 2, 3, 1, 1)).toThrow(/3 values for a 2x2x3 image/);
  });
});
