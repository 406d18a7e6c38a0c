/** The defender's clean data for `purify` and `detect`: loaded, fitted to the model, optionally cut to a share. */
import type * as tf from '@tensorflow/tfjs';
import { CIFAR10_CLASSES } from '../../engine/data/cifar10';
import { classBalancedSplit, type Dataset, subset } from '../../engine/data/dataset';
import { createRng } from '../../engine/random';
import { loadDataArg } from '../../platform/node/data';
import { classesOption } from '../args';

/** What the data must fit: the model's input size, class count and (when known) class names. */
export interface ModelFit {
  height: number;
  width: number;
  numClasses: number;
  classNames?: readonly string[];
}

/**
 * What data must fit for a model: its input size and class count, and its class names: --classes, else the
 * manifest's, else CIFAR-10's for a 10-class 32x32 model (as the page does), else none (the data's folders name them).
 */
export function modelFit(model: tf.LayersModel, manifestClasses: readonly string[] | undefined, classes: string | undefined): ModelFit {
  const numClasses = model.outputs[model.outputs.length - 1].shape[1] as number;
  const [, height, width] = model.inputs[0].shape as number[];
  const given = classesOption(classes, numClasses);
  const cifarLike = numClasses === CIFAR10_CLASSES.length && height === 32 && width === 32;
  const classNames = given ?? manifestClasses ?? (cifarLike ? [...CIFAR10_CLASSES] : undefined);
  return { height, width, numClasses, classNames };
}

/** Throws a clear error when a data set does not fit the model (image size, class count). */
export function checkFits(ds: Dataset, fit: ModelFit, flag: string): void {
  if (ds.height !== fit.height || ds.width !== fit.width) throw new Error(`${flag} images are ${ds.height}x${ds.width} but the model expects ${fit.height}x${fit.width}`);
  if (ds.classNames.length > fit.numClasses) throw new Error(`${flag} has ${ds.classNames.length} classes but the model has ${fit.numClasses} outputs`);
}

/**
 * Loads `--clean`, keeping a class-balanced share of it (share 1: all; 0.05: the paper's 5% of CIFAR-10 train),
 * drawn with the run's seed; `count` > 0 instead keeps about that many images (a preset's clean budget) when the
 * set is larger. Resolves to the data and the size before the cut.
 */
export async function loadCleanData(arg: string, fit: ModelFit, share: number, seed: number, count = 0): Promise<{ clean: Dataset; all: number }> {
  let clean = await loadDataArg(arg, { height: fit.height, width: fit.width, classNames: fit.classNames ? [...fit.classNames] : undefined, numClasses: fit.numClasses });
  const all = clean.n;
  const keep = count > 0 && count < all ? count / all : share;
  if (keep < 1) clean = subset(clean, classBalancedSplit(clean, keep, createRng(seed).fork('clean-share')).selected);
  checkFits(clean, fit, '--clean');
  return { clean, all };
}
