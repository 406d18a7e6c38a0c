/**
 * The defense losses as differentiable tensor functions (call them inside tf.tidy / a gradient tape):
 * cross-entropy, cosine similarity, MCLDef's model-contrastive loss, MCLDef+'s positive-pair loss and NAD's
 * attention-distillation loss.
 */
import * as tf from '@tensorflow/tfjs';

/** Mean cross-entropy of logits [B, K] against integer labels [B] (PyTorch's CrossEntropyLoss, mean reduction). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const logp = tf.logSoftmax(logits); // [B, K]
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(labels, 'int32'), k)), 1); // [B]
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** Cross-entropy against one class for every row (trigger inversion's CE(f(x'), target)). */
export function crossEntropyToClass(logits: tf.Tensor2D, cls: number): tf.Scalar {
  return tf.tidy(() => crossEntropy(logits, tf.fill([logits.shape[0]], cls, 'int32') as tf.Tensor1D));
}

/**
 * Row-wise cosine similarity of a, b [B, D] -> [B], as torch.nn.functional.cosine_similarity (eps 1e-8):
 * a.b / sqrt(max(|a|^2 |b|^2, eps^2)).
 */
export function cosineSimilarity(a: tf.Tensor2D, b: tf.Tensor2D, eps = 1e-8): tf.Tensor1D {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(a, b), 1);
    const n2 = tf.mul(tf.sum(tf.square(a), 1), tf.sum(tf.square(b), 1));
    return tf.div(dot, tf.sqrt(tf.maximum(n2, eps * eps))) as tf.Tensor1D;
  });
}

/** The MCLDef loss and the mean similarities that make it. */
export type MclLoss = {
  /** mean over the batch of -log(exp(s+/t) / (exp(s+/t) + exp(s-/t))). */
  loss: tf.Scalar;
  /** Mean s+ = cos(z, z+) and s- = cos(z, z-). */
  sPos: tf.Scalar;
  sNeg: tf.Scalar;
};

/**
 * MCLDef's model-contrastive loss (docs/design.md Stage 2):
 * z = f_p(x^) [B, D], zPos = f_b(x) [B, D], zNeg = f_b(x^) [B, D];
 * loss = mean_b -log(exp(s+/t) / (exp(s+/t) + exp(s-/t))) = mean_b softplus((s- - s+) / t).
 * With s+ = s- the loss is log 2.
 */
export function mclLoss(z: tf.Tensor2D, zPos: tf.Tensor2D, zNeg: tf.Tensor2D, tau: number): MclLoss {
  return tf.tidy(() => {
    const sPos = cosineSimilarity(z, zPos); // [B]
    const sNeg = cosineSimilarity(z, zNeg); // [B]
    const loss = tf.mean(tf.softplus(tf.div(tf.sub(sNeg, sPos), tau))) as tf.Scalar;
    return { loss, sPos: tf.mean(sPos) as tf.Scalar, sNeg: tf.mean(sNeg) as tf.Scalar };
  });
}

/**
 * MCLDef's loss with the target class kept (our extension, not the paper's): rows whose clean image belongs to the
 * backdoor's target class (`isTarget` [B], 1 or 0) drop the negative pair and only pull z towards z+ (1 - s+),
 * since for them the backdoored model's view of x^ lies in their own class; the other rows keep MCLDef's loss.
 * loss = mean_b [(1 - t_b) softplus((s-_b - s+_b) / tau) + t_b (1 - s+_b)]. With no target rows it is mclLoss.
 */
export function mclKeepTargetLoss(z: tf.Tensor2D, zPos: tf.Tensor2D, zNeg: tf.Tensor2D, tau: number, isTarget: tf.Tensor1D): MclLoss {
  return tf.tidy(() => {
    const sPos = cosineSimilarity(z, zPos); // [B]
    const sNeg = cosineSimilarity(z, zNeg); // [B]
    const contrast = tf.softplus(tf.div(tf.sub(sNeg, sPos), tau)); // [B]
    const pull = tf.sub(1, sPos); // [B]
    const rows = tf.add(tf.mul(tf.sub(1, isTarget), contrast), tf.mul(isTarget, pull));
    return { loss: tf.mean(rows) as tf.Scalar, sPos: tf.mean(sPos) as tf.Scalar, sNeg: tf.mean(sNeg) as tf.Scalar };
  });
}

/**
 * MCLDef+ stage 3 (positive pairs only): mean_b (1 - cos(f_p(x^), f_b(x))), minimized to pull the purified
 * features of triggered images onto the backdoored model's features of their clean versions.
 */
export function positivePairLoss(z: tf.Tensor2D, zPos: tf.Tensor2D): { loss: tf.Scalar; sPos: tf.Scalar } {
  return tf.tidy(() => {
    const s = cosineSimilarity(z, zPos);
    return { loss: tf.mean(tf.sub(1, s)) as tf.Scalar, sPos: tf.mean(s) as tf.Scalar };
  });
}

/**
 * NAD attention map of activations a [B, H, W, C]: mean over channels of |a|^p, flattened to [B, H*W] and
 * L2-normalized per image (1e-6 added to the norm, so an all-zero map stays finite).
 */
export function attentionMap(a: tf.Tensor4D, p = 2): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, h, w] = a.shape;
    const am = tf.reshape(tf.mean(tf.pow(tf.abs(a), p), 3), [b, h * w]); // [B, H*W]
    const norm = tf.sqrt(tf.sum(tf.square(am), 1, true)); // [B, 1]
    return tf.div(am, tf.add(norm, 1e-6)) as tf.Tensor2D;
  });
}

/**
 * NAD attention-distillation loss between student and teacher activations [B, H, W, C]: the mean squared
 * difference of their attention maps, over the batch and the H*W positions (the form NAD's betas were tuned for).
 */
export function attentionLoss(student: tf.Tensor4D, teacher: tf.Tensor4D, p = 2): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(attentionMap(student, p), attentionMap(teacher, p))) as tf.Scalar);
}
