/**
 * The two optimizers of the defense, written out so their arithmetic is explicit and their state is disposed:
 *
 * - {@link SgdMomentum}: PyTorch's SGD with momentum and L2 weight decay: g = grad + wd * p; buf = momentum * buf + g
 *   (buf = g on the first step); p -= lr * buf. (tf.train.momentum has no weight decay.)
 * - {@link Adam}: PyTorch's Adam (bias-corrected moments, epsilon added to sqrt(v_hat)).
 *
 * Plus {@link gradientsOf}, which returns gradients in the order of a variable list. Where the backend has the
 * fused kernels (WebGPU: kernels/webgpu/optimizer.ts) each variable's update is one dispatch; elsewhere tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { hasFusedKernel, OPTIMIZER_KERNELS } from '../kernels/optimizerKernels';

/** Largest finite float32: the fused Adam's bounds when there is no clip. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The trainable variables of a LayersModel, in model.trainableWeights order. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * Value of `f` and its gradients with respect to `vars`, aligned with `vars`: null where `f` does not depend on a
 * variable (as PyTorch leaves .grad None, so its optimizers skip that parameter, weight decay included).
 * The caller disposes `value` and every gradient.
 */
export function gradientsOf(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: (tf.Tensor | null)[] } {
  const names = new Set(vars.map((v) => v.name));
  if (names.size !== vars.length) throw new Error('gradientsOf: variable names must be unique');
  const { value, grads } = tf.variableGrads(f, vars);
  return { value, grads: vars.map((v) => grads[v.name] ?? null) };
}

/** SGD with momentum and weight decay, as torch.optim.SGD(momentum, weight_decay, dampening 0, no Nesterov). */
export class SgdMomentum {
  private buffers: (tf.Tensor | null)[];

  constructor(
    private readonly vars: tf.Variable[],
    private readonly momentum = 0.9,
    private readonly weightDecay = 0,
  ) {
    this.buffers = vars.map(() => null);
  }

  /**
   * One update with learning rate `lr`; grads align with the variables and are not disposed. A null gradient
   * skips its variable (no decay, no momentum), as PyTorch does for a parameter whose .grad is None.
   */
  step(grads: (tf.Tensor | null)[], lr: number): void {
    if (grads.length !== this.vars.length) throw new Error(`SgdMomentum: ${grads.length} gradients for ${this.vars.length} variables`);
    if (hasFusedKernel(OPTIMIZER_KERNELS.sgd)) {
      this.fusedStep(grads, lr);
      return;
    }
    this.vars.forEach((v, i) => {
      const grad = grads[i];
      if (grad === null) return;
      const prev = this.buffers[i];
      const buf = tf.tidy(() => {
        const g = this.weightDecay ? tf.add(grad, tf.mul(v, this.weightDecay)) : grad.clone();
        return prev && this.momentum ? tf.add(tf.mul(prev, this.momentum), g) : g;
      });
      prev?.dispose();
      this.buffers[i] = buf;
      tf.tidy(() => v.assign(tf.sub(v, tf.mul(buf, lr))));
    });
  }

  /** The same update, one dispatch per variable (kernels/webgpu/optimizer.ts). */
  private fusedStep(grads: (tf.Tensor | null)[], lr: number): void {
    const hyper = tf.tensor1d([lr, this.momentum, this.weightDecay]);
    try {
      this.vars.forEach((v, i) => {
        const grad = grads[i];
        if (grad === null) return;
        const prev = this.buffers[i];
        const inputs: tf.NamedTensorMap = { param: v, grad, hyper, ...(prev && this.momentum ? { buffer: prev } : {}) };
        const [p, buf] = tf.engine().runKernel(OPTIMIZER_KERNELS.sgd, inputs) as tf.Tensor[];
        v.assign(p);
        p.dispose();
        prev?.dispose();
        this.buffers[i] = buf;
      });
    } finally {
      hyper.dispose();
    }
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    tf.dispose(this.buffers.filter((b): b is tf.Tensor => b !== null));
    this.buffers = this.vars.map(() => null);
  }
}

/** Adam, as torch.optim.Adam (no weight decay, no amsgrad). */
export class Adam {
  private m: tf.Tensor[];
  private v: tf.Tensor[];
  private t = 0;

  constructor(
    private readonly vars: tf.Variable[],
    private readonly lr = 0.001,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = vars.map((x) => tf.zerosLike(x));
    this.v = vars.map((x) => tf.zerosLike(x));
  }

  /**
   * One update; grads align with the variables and are not disposed (null: that variable is skipped). With
   * `clip`, each updated variable is then clamped to [lo, hi] (projected Adam, as trigger inversion keeps its
   * mask and pattern in [0, 1]).
   */
  step(grads: (tf.Tensor | null)[], clip?: [number, number]): void {
    if (grads.length !== this.vars.length) throw new Error(`Adam: ${grads.length} gradients for ${this.vars.length} variables`);
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    if (hasFusedKernel(OPTIMIZER_KERNELS.adam)) {
      this.fusedStep(grads, c1, c2, clip);
      return;
    }
    this.vars.forEach((x, i) => {
      const grad = grads[i];
      if (grad === null) return;
      const [m, v] = tf.tidy(() => [
        tf.add(tf.mul(this.m[i], this.beta1), tf.mul(grad, 1 - this.beta1)),
        tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(grad), 1 - this.beta2)),
      ]);
      tf.dispose([this.m[i], this.v[i]]);
      this.m[i] = m;
      this.v[i] = v;
      // p -= lr * (m / c1) / (sqrt(v / c2) + eps)
      tf.tidy(() => {
        const next = tf.sub(x, tf.div(tf.mul(m, this.lr / c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon)));
        x.assign(clip ? tf.clipByValue(next, clip[0], clip[1]) : next);
      });
    });
  }

  /** The same update, one dispatch per variable (kernels/webgpu/optimizer.ts). */
  private fusedStep(grads: (tf.Tensor | null)[], c1: number, c2: number, clip?: [number, number]): void {
    const [lo, hi] = clip ?? [-FLOAT32_MAX, FLOAT32_MAX];
    const hyper = tf.tensor1d([this.lr / c1, c2, this.beta1, this.beta2, this.epsilon, lo, hi]);
    try {
      this.vars.forEach((x, i) => {
        const grad = grads[i];
        if (grad === null) return;
        const [p, m, v] = tf.engine().runKernel(OPTIMIZER_KERNELS.adam, { param: x, grad, m: this.m[i], v: this.v[i], hyper }) as tf.Tensor[];
        x.assign(p);
        tf.dispose([p, this.m[i], this.v[i]]);
        this.m[i] = m;
        this.v[i] = v;
      });
    } finally {
      hyper.dispose();
    }
  }

  /** Frees the moment estimates. */
  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}
