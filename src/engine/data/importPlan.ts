/**
 * Planning an import of user images before anything is decoded: which files are images, which class each belongs
 * to, the counts per class, and what to tell the user. Pure (paths and text in, a plan out), so the browser (a
 * picked folder, a .zip, loose files) and the CLI share the same rules and messages.
 *
 * Two layouts:
 * - `<class>/<image>` (any folders above the class folder are ignored, as in a picked directory or a zip with a
 *   top folder): the class is the image's parent folder.
 * - a flat set plus a labels file (`labels.csv` / `labels.txt`): one `<file name>,<label>` line per image, read as
 *   CSV (double quotes around a field with commas; a `;` or tab separator, or whitespace when a line has none of
 *   them, also works); a label is a class name or a class index; an optional header line is skipped.
 * Class ids: when every class name is one of the model's class names (or a class index), the model's ids are used
 * (so a folder "dog" is class 5 of CIFAR-10 whatever other folders exist); a mix of the model's names and other
 * names is refused (a typo such as "dgo" would otherwise become a class of its own); else names that are all
 * integers are the ids; else the sorted names get 0..K-1 (torchvision's ImageFolder rule), counting every class
 * folder, the empty ones too, when the caller lists the folders (`dirs`). Labels that look like spreadsheet
 * formulas ("=cmd|...") are refused. Paths that climb out of their folder ("..") or start at a root are refused as
 * unsafe and reported apart from the files merely skipped (hidden, not an image).
 */

/** File name endings decoded as images. */
export const IMAGE_FILE = /\.(png|jpe?g|gif|bmp|webp)$/i;
/** File names read as a labels file. */
export const LABELS_FILE = /(^|\/)labels\.(csv|txt|tsv)$/i;
/** Default cap on the images of one import (memory: 10,000 CIFAR images are 30 MB of pixels, more while decoding). */
export const MAX_IMPORT_IMAGES = 10_000;

/** What to import, resolved. */
export interface ImportPlan {
  /** Index into the input path list and the class id, in a stable order (class, then path). */
  items: Array<{ index: number; label: number }>;
  classNames: string[];
  /** Images per class id. */
  counts: number[];
  /** Paths left out, with the reason (not an image, hidden, no label). */
  skipped: Array<{ path: string; reason: string }>;
  /** Things the user should know that do not stop the import (imbalance, missing classes). */
  warnings: string[];
}

/** Options of {@link planImport}. */
export interface ImportOptions {
  /** The labels file's text, when the set is flat. */
  labelsText?: string;
  /** The model's class names (ids follow them when the data's class names all belong to them). */
  modelClassNames?: readonly string[];
  /** The model's class count: more classes than this is an error. */
  numClasses?: number;
  maxImages?: number;
  /**
   * Every folder of the set (relative paths, as the files'), empty ones included: the sibling folders of the class
   * folders count as classes even without images, as in torchvision's ImageFolder.
   */
  dirs?: readonly string[];
}

const parts = (p: string) => p.split(/[\\/]+/).filter((s) => s.length > 0);
const base = (p: string) => parts(p).pop() ?? p;
const hidden = (p: string) => parts(p).some((s) => s.startsWith('.') || s === '__MACOSX');
/** A path that climbs out of its folder ("..") or starts at a root ("/x", "C:\\x"): what a zip made to write elsewhere holds. */
export const unsafePath = (p: string): boolean => /^([\\/]|[a-zA-Z]:)/.test(p) || parts(p).includes('..');
/** The reason given for a path refused as unsafe. */
export const UNSAFE_PATH = 'refused: an unsafe path (".." or absolute)';
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Separators a labels file may use between its two fields, outside quotes (the first one found decides). */
const SEPARATORS = [',', ';', '\t'];

/**
 * Splits one line of a labels file into trimmed fields, as CSV: `sep` between fields, a field in double quotes may
 * hold the separator and spaces, `""` inside quotes is one quote. Without a separator (`sep` undefined: a
 * "<file> <label>" labels.txt) the line is split on whitespace.
 * @throws Error naming the line when a quote is not closed
 */
function splitFields(line: string, sep: string | undefined, lineNo: number): string[] {
  if (sep === undefined) return line.split(/\s+/).filter((c) => c !== '');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (c === sep) {
      fields.push(field.trim());
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error(`labels file, line ${lineNo}: a quoted field is not closed (expected "<file name>,<label>", a field with commas or quotes in double quotes)`);
  fields.push(field.trim());
  while (fields.length > 2 && fields[fields.length - 1] === '') fields.pop(); // trailing separators a spreadsheet adds
  return fields;
}

/** The separator of the first data line (outside quotes), or undefined when it has none. */
function separatorOf(line: string): string | undefined {
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && SEPARATORS.includes(c)) return c;
  }
  return undefined;
}

/**
 * Parses a labels file into file base name -> label text and its line number (from 1). Each line holds exactly two
 * fields, the file name and the whole label, read as CSV (so a label is never a piece of a longer field).
 */
function parseLabels(text: string): Map<string, { label: string; line: number }> {
  const out = new Map<string, { label: string; line: number }>();
  let first = true;
  let sep: string | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (first) sep = separatorOf(line);
    const cells = splitFields(line, sep, i + 1);
    const shown = `"${line.slice(0, 60)}"`;
    if (cells.length !== 2 || cells[0] === '' || cells[1] === '') {
      const sepName = sep === undefined ? 'a space' : sep === '\t' ? 'a tab' : `"${sep}"`;
      const got = cells.length === 2 ? 'an empty field' : `${cells.length} field(s)`;
      throw new Error(`labels file, line ${i + 1}: expected "<file name>,<label>" (two fields separated by ${sepName}; double quotes around a field that holds one), got ${got} in ${shown}`);
    }
    const [file, label] = cells;
    const header = first && !IMAGE_FILE.test(file); // a header such as "filename,label"
    first = false;
    if (!header) out.set(base(file), { label, line: i + 1 });
  });
  if (out.size === 0) throw new Error('the labels file lists no images (expected lines "<file name>,<label>")');
  return out;
}

/** Where a class name came from, for messages ("labels file, line 3" or "folder dgo"). */
type Origin = (name: string) => string;

/** Turns the data's class names into ids and the final class name list. */
function assignIds(names: string[], opts: ImportOptions, origin: Origin): { ids: Map<string, number>; classNames: string[] } {
  const model = opts.modelClassNames;
  const k = opts.numClasses ?? model?.length;
  const isInt = (n: string) => /^\d+$/.test(n);
  const formula = names.find((n) => /^[=+@-]/.test(n) || /[\x00-\x1f\x7f]/.test(n));
  if (formula !== undefined) throw new Error(`${origin(formula)}: the class "${formula.slice(0, 40)}" is not a class name (it looks like a spreadsheet formula); use the model's class names or indices`);
  if (model && names.every((n) => model.includes(n) || isInt(n))) {
    const id = (n: string) => (model.includes(n) ? model.indexOf(n) : Number(n));
    const bad = names.find((n) => id(n) >= model.length);
    if (bad !== undefined) throw new Error(`${origin(bad)}: class ${bad} does not exist: the model has ${model.length} classes (0-${model.length - 1})`);
    return { ids: new Map(names.map((n) => [n, id(n)])), classNames: [...model] };
  }
  if (model && names.some((n) => model.includes(n))) {
    const bad = names.find((n) => !model.includes(n) && !isInt(n))!;
    throw new Error(`${origin(bad)}: "${bad}" is not a class of the model (${model.join(', ')}); use those names or the indices 0-${model.length - 1}`);
  }
  if (names.every(isInt)) {
    const top = Math.max(...names.map(Number));
    if (k !== undefined && top >= k) throw new Error(`${origin(String(top))}: class ${top} does not exist: the model has ${k} classes (0-${k - 1})`);
    const count = k ?? top + 1;
    return { ids: new Map(names.map((n) => [n, Number(n)])), classNames: Array.from({ length: count }, (_, i) => model?.[i] ?? String(i)) };
  }
  const sorted = [...names].sort(byName);
  if (k !== undefined && sorted.length > k) {
    throw new Error(`${sorted.length} classes (${sorted.slice(0, 6).join(', ')}${sorted.length > 6 ? ', ...' : ''}) but the model has ${k}: name the class folders after the model's classes${model ? ` (${model.join(', ')})` : ''} or use 0-${k - 1}`);
  }
  const classNames = sorted.slice();
  if (k !== undefined) for (let i = classNames.length; i < k; i++) classNames.push(model?.[i] ?? `class ${i}`);
  return { ids: new Map(sorted.map((n, i) => [n, i])), classNames };
}

/** The sibling folders of the class folders (their common parent's sub-folders), when there is one parent. */
function siblingClassFolders(classDirs: Iterable<string>, dirs: readonly string[]): string[] {
  const parentOf = (p: string) => parts(p).slice(0, -1).join('/');
  const parents = new Set([...classDirs].map(parentOf));
  if (parents.size !== 1) return [];
  const [parent] = parents;
  return dirs.filter((d) => parts(d).length > 0 && parentOf(d) === parent && !hidden(d)).map((d) => parts(d).pop()!);
}

/**
 * Plans the import of `paths` (relative paths as picked or as stored in a zip).
 * @throws Error saying what was expected: no images, images outside class folders without a labels file, more
 *   classes than the model has, or more images than `maxImages`
 */
export function planImport(paths: readonly string[], opts: ImportOptions = {}): ImportPlan {
  const max = opts.maxImages ?? MAX_IMPORT_IMAGES;
  const skipped: ImportPlan['skipped'] = [];
  const images: number[] = [];
  paths.forEach((p, i) => {
    if (unsafePath(p)) skipped.push({ path: p, reason: UNSAFE_PATH });
    else if (hidden(p)) skipped.push({ path: p, reason: 'hidden file' });
    else if (LABELS_FILE.test(p)) return;
    else if (!IMAGE_FILE.test(p)) skipped.push({ path: p, reason: 'not an image (.png, .jpg, .gif, .bmp, .webp)' });
    else images.push(i);
  });
  if (images.length === 0) {
    throw new Error(paths.length === 0 ? 'no files: pick a folder with one sub-folder of images per class, a .zip of such folders, or images with a labels file' : `no images among the ${paths.length} file(s) (expected .png, .jpg, .gif, .bmp or .webp files${skipped[0] ? `; e.g. "${skipped[0].path}" ${skipped[0].reason === UNSAFE_PATH ? `was ${skipped[0].reason}` : 'is not one'}` : ''})`);
  }
  if (images.length > max) throw new Error(`${images.length.toLocaleString('en')} images: at most ${max.toLocaleString('en')} can be loaded at once (memory). The paper's defender has 2,500 (5% of CIFAR-10): a class-balanced sample of that size is enough.`);

  const labelOf = new Map<number, string>();
  const warnings: string[] = [];
  let origin: Origin = (name) => `folder "${name}"`;
  let extraNames: string[] = [];
  if (opts.labelsText !== undefined) {
    const labels = parseLabels(opts.labelsText);
    const lineOf = new Map<string, number>();
    for (const { label, line } of labels.values()) if (!lineOf.has(label)) lineOf.set(label, line);
    origin = (name) => `labels file, line ${lineOf.get(name) ?? '?'}`;
    const present = new Set<string>();
    for (const i of images) {
      const l = labels.get(base(paths[i]));
      present.add(base(paths[i]));
      if (l === undefined) skipped.push({ path: paths[i], reason: 'not in the labels file' });
      else labelOf.set(i, l.label);
    }
    const missing = [...labels].filter(([file]) => !present.has(file));
    if (missing.length) warnings.push(`${missing.length} image(s) listed in the labels file are missing, e.g. "${missing[0][0]}" (line ${missing[0][1].line})`);
  } else {
    const loose = images.filter((i) => parts(paths[i]).length < 2);
    if (loose.length) throw new Error(`"${paths[loose[0]]}" is not inside a class folder: put images in one folder per class (<class>/<image>), or add a labels.csv with "<file name>,<label>" lines`);
    for (const i of images) labelOf.set(i, parts(paths[i]).slice(-2)[0]);
    const classDirs = new Set(images.map((i) => parts(paths[i]).slice(0, -1).join('/')));
    extraNames = siblingClassFolders(classDirs, opts.dirs ?? []);
  }
  if (labelOf.size === 0) throw new Error('none of the images is named in the labels file');
  const { ids, classNames } = assignIds([...new Set([...labelOf.values(), ...extraNames])], opts, origin);
  const items = [...labelOf].map(([index, name]) => ({ index, label: ids.get(name)! }));
  items.sort((a, b) => a.label - b.label || byName(paths[a.index], paths[b.index]));
  const counts = new Array<number>(classNames.length).fill(0);
  for (const it of items) counts[it.label]++;

  const empty = classNames.filter((_, c) => counts[c] === 0);
  if (empty.length) warnings.push(`no images of ${empty.length === 1 ? 'class' : 'classes'} ${empty.join(', ')}: the defense then learns nothing about ${empty.length === 1 ? 'it' : 'them'}`);
  const present = counts.filter((n) => n > 0);
  if (present.length > 1 && Math.max(...present) > 2 * Math.min(...present)) {
    const lo = counts.indexOf(Math.min(...present));
    const hi = counts.indexOf(Math.max(...present));
    warnings.push(`unbalanced classes: ${counts[hi]} images of ${classNames[hi]} but ${counts[lo]} of ${classNames[lo]}; a class-balanced set works best`);
  }
  const refused = skipped.filter((x) => x.reason === UNSAFE_PATH);
  const others = skipped.filter((x) => x.reason !== UNSAFE_PATH);
  if (refused.length) warnings.push(`refused ${refused.length} file(s) with unsafe paths (".." or absolute, as in a zip made to write outside its folder), e.g. "${refused[0].path}"; they were not read`);
  if (others.length) warnings.push(`skipped ${others.length} file(s), e.g. "${others[0].path}" (${others[0].reason})`);
  return { items, classNames, counts, skipped, warnings };
}
