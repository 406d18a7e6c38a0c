/**
 * A Barnes-Hut repulsion pass (quadtree, opening angle theta) for bench:tsne only: it answers whether
 * Barnes-Hut would pay at the page's size, by timing it against the engine's exact gradient on the same layout.
 * The engine does not use it (at about 1,000 points it does not pay at theta 0.5; see the README).
 */

/** Quadtree over a 2-D layout in flat arrays: node centre, half side, centre of mass, point count, children. */
class QuadTree {
  private cx: Float64Array;
  private cy: Float64Array;
  private half: Float64Array;
  readonly mx: Float64Array;
  readonly my: Float64Array;
  readonly count: Int32Array;
  readonly child: Int32Array;
  /** The one point of a leaf, -1 for inner nodes. */
  readonly leaf: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.cx = new Float64Array(capacity);
    this.cy = new Float64Array(capacity);
    this.half = new Float64Array(capacity);
    this.mx = new Float64Array(capacity);
    this.my = new Float64Array(capacity);
    this.count = new Int32Array(capacity);
    this.child = new Int32Array(4 * capacity);
    this.leaf = new Int32Array(capacity);
  }

  side(k: number): number {
    return 2 * this.half[k];
  }

  node(x: number, y: number, h: number): number {
    const k = this.size++;
    if (k >= this.count.length) throw new Error('quadtree: out of nodes');
    this.cx[k] = x;
    this.cy[k] = y;
    this.half[k] = h;
    this.mx[k] = 0;
    this.my[k] = 0;
    this.count[k] = 0;
    this.leaf[k] = -1;
    this.child.fill(-1, 4 * k, 4 * k + 4);
    return k;
  }

  insert(k: number, i: number, y: Float64Array, depth: number): void {
    const px = y[2 * i];
    const py = y[2 * i + 1];
    const c = this.count[k];
    this.mx[k] = (this.mx[k] * c + px) / (c + 1);
    this.my[k] = (this.my[k] * c + py) / (c + 1);
    this.count[k] = c + 1;
    if (c === 0) {
      this.leaf[k] = i;
      return;
    }
    if (depth > 48) return; // coincident points: keep them lumped
    if (this.leaf[k] >= 0) {
      const j = this.leaf[k];
      this.leaf[k] = -1;
      this.down(k, j, y, depth);
    }
    this.down(k, i, y, depth);
  }

  private down(k: number, i: number, y: Float64Array, depth: number): void {
    const q = (y[2 * i] > this.cx[k] ? 1 : 0) + (y[2 * i + 1] > this.cy[k] ? 2 : 0);
    let c = this.child[4 * k + q];
    if (c < 0) {
      const h = this.half[k] / 2;
      c = this.node(this.cx[k] + (q & 1 ? h : -h), this.cy[k] + (q & 2 ? h : -h), h);
      this.child[4 * k + q] = c;
    }
    this.insert(c, i, y, depth + 1);
  }
}

/**
 * Barnes-Hut estimate of t-SNE's repulsion: rep_i = sum_j w_ij^2 (y_i - y_j) into `rep` ([n, 2]), and returns
 * Z = sum_{i != j} w_ij, with a cell of points standing for all of them when side / distance < theta.
 */
export function barnesHutRepulsion(y: Float64Array, n: number, theta: number, rep: Float64Array): number {
  const tree = new QuadTree(Math.max(16, 8 * n));
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, y[2 * i]);
    x1 = Math.max(x1, y[2 * i]);
    y0 = Math.min(y0, y[2 * i + 1]);
    y1 = Math.max(y1, y[2 * i + 1]);
  }
  const root = tree.node((x0 + x1) / 2, (y0 + y1) / 2, Math.max(x1 - x0, y1 - y0) / 2 + 1e-9);
  for (let i = 0; i < n; i++) tree.insert(root, i, y, 0);
  const stack = new Int32Array(tree.size + 4);
  const t2 = theta * theta;
  let z = 0;
  for (let i = 0; i < n; i++) {
    const px = y[2 * i];
    const py = y[2 * i + 1];
    let rx = 0;
    let ry = 0;
    let sp = 0;
    stack[sp++] = root;
    while (sp > 0) {
      const k = stack[--sp];
      if (tree.count[k] === 0 || tree.leaf[k] === i) continue;
      const dx = px - tree.mx[k];
      const dy = py - tree.my[k];
      const d2 = dx * dx + dy * dy;
      const s = tree.side(k);
      if (tree.leaf[k] >= 0 || s * s < t2 * d2) {
        const w = 1 / (1 + d2);
        const m = tree.count[k] * w;
        z += m;
        rx += m * w * dx;
        ry += m * w * dy;
      } else {
        for (let q = 0; q < 4; q++) {
          const c = tree.child[4 * k + q];
          if (c >= 0) stack[sp++] = c;
        }
      }
    }
    rep[2 * i] = rx;
    rep[2 * i + 1] = ry;
  }
  return z;
}
