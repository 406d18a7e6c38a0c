/**
 * CIFAR-10's facts, in one place: the label order (class folders sorted alphabetically, torchvision's convention)
 * and the per-channel input normalization the MCLDef authors' code uses (mean / std over the training set).
 */

/** Class names by label id: 0 airplane ... 9 truck. */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);

/** Per-channel (R, G, B) mean of the training images in [0, 1]. */
export const CIFAR10_MEAN: readonly number[] = Object.freeze([0.4914, 0.4822, 0.4465]);

/** Per-channel (R, G, B) standard deviation, as the authors' code writes it. */
export const CIFAR10_STD: readonly number[] = Object.freeze([0.2023, 0.1994, 0.201]);
