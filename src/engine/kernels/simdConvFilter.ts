/**
 * Conv2DBackpropFilter as a WebAssembly SIMD kernel emitted at run time (wasmAsm.ts) that works in place on
 * tfjs-backend-wasm's heap, NHWC, no transposes, no packing:
 *
 *   dw[kh, kw, ci, co] = sum_{b, oh, ow} x[b, oh*sh + kh - pt, ow*sw + kw - pl, ci] * dy[b, oh, ow, co]
 *
 * Loop nest (outer in wasm, so one JS call per kernel):
 *   for b, oh:                           one dy row [OW, Co] (L1-resident)
 *     for kh, kw:                        one input row (skipped where it is padding), valid ow range
 *       for ci0 (CI_TILE), co0 (4*V_TILE):
 *         tile(acc = dw[kh, kw, ci0.., co0..], xp, dp, n = #valid ow)
 * and the tile keeps CI_TILE x V_TILE f32x4 accumulators in registers over the row:
 *   acc[i][j] += splat(x[ow, ci0 + i]) * dy[ow, co0 + 4j .. 4j + 3]
 * Tiles at the channel edges (Ci % CI_TILE, Co % (4*V_TILE)) get their own smaller functions. Co must be a
 * multiple of 4 (one f32x4 per 4 output channels); other shapes use the XNNPACK formulation.
 *
 * Why: XNNPACK (through tfjs) only offers the transposed-operand convolution for this reduction, which streams a
 * huge packed "filter" through a GEMM tiled for small filters: ~2x the forward convolution's time on WRN-16-1's
 * layers and 10x on the 1x1 stride-2 shortcuts. This kernel runs at about the forward convolution's speed
 * (numbers in src/cli/bench/trainBench.ts output).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { assembleModule, FnBuilder, I32, V128 } from './wasmAsm';
import { instantiateOnHeap, relaxedSimdSupported } from './wasmHeap';

/** Input channels per register tile (4 x 2 measured best of 4x3, 4x4, 6x2, 8x2, 2x4, 3x3, 8x1, 5x2; 2x4 equal). */
const CI_TILE = 4;
/** f32x4 vectors of output channels per register tile (4 * V_TILE channels). */
const V_TILE = 2;

/** Parameters of the exported kernel, in order. */
const KERNEL_PARAMS = ['x', 'dy', 'dw', 'B', 'H', 'W', 'Ci', 'OH', 'OW', 'Co', 'KH', 'KW', 'sh', 'sw', 'pt', 'pl'] as const;

/**
 * tile(acc, xp, dp, n, rows, xStep, dStep, rowStride, xRowStep, dRowStep): nci x nv accumulators over `rows`
 * rows of `n` pixels each (n, rows >= 1); acc rows are rowStride bytes apart (one per input channel).
 */
function tileFn(nci: number, nv: number, fma: boolean): FnBuilder {
  const f = new FnBuilder(`tile_${nci}_${nv}`, 10, false);
  const [acc, xp, dp, n, rows, xStep, dStep, rowStride, xRowStep, dRowStep] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const a: number[][] = [];
  const row: number[] = [];
  for (let i = 0; i < nci; i++) {
    row.push(f.local(I32));
    a.push(Array.from({ length: nv }, () => f.local(V128)));
  }
  const dv = Array.from({ length: nv }, () => f.local(V128));
  const xv = f.local(V128);
  const [k, xq, dq] = [f.local(I32), f.local(I32), f.local(I32)];
  for (let i = 0; i < nci; i++) {
    f.get(acc).get(rowStride).i32(i).mul().add().set(row[i]);
    for (let j = 0; j < nv; j++) f.get(row[i]).v128Load(16 * j).set(a[i][j]);
  }
  f.loop(() => {
    f.get(xp).set(xq).get(dp).set(dq).get(n).set(k);
    f.loop(() => {
      for (let j = 0; j < nv; j++) f.get(dq).v128Load(16 * j).set(dv[j]);
      for (let i = 0; i < nci; i++) {
        f.get(xq).v128Load32Splat(4 * i).set(xv);
        for (let j = 0; j < nv; j++) {
          if (fma) f.get(xv).get(dv[j]).get(a[i][j]).f32x4RelaxedMadd().set(a[i][j]);
          else f.get(a[i][j]).get(xv).get(dv[j]).f32x4Mul().f32x4Add().set(a[i][j]);
        }
      }
      f.get(xq).get(xStep).add().set(xq);
      f.get(dq).get(dStep).add().set(dq);
      f.get(k).i32(1).sub().tee(k).brIf(0);
    });
    f.get(xp).get(xRowStep).add().set(xp);
    f.get(dp).get(dRowStep).add().set(dp);
    f.get(rows).i32(1).sub().tee(rows).brIf(0);
  });
  for (let i = 0; i < nci; i++) for (let j = 0; j < nv; j++) f.get(row[i]).get(a[i][j]).v128Store(16 * j);
  return f;
}

/** First i in [0, count) with lo <= i*stride + offset, and the end of the run with i*stride + offset < hi. */
export function validRange(f: FnBuilder, first: number, end: number, count: number, stride: number, offset: () => void, hi: number): void {
  f.i32(0).set(first);
  f.block(() =>
    f.loop(() => {
      f.get(first).get(count).geS().brIf(1);
      f.get(first).get(stride).mul();
      offset();
      f.add().i32(0).geS().brIf(1);
      f.get(first).i32(1).add().set(first).br(0);
    }),
  );
  f.get(count).set(end);
  f.block(() =>
    f.loop(() => {
      f.get(end).get(first).le().brIf(1);
      f.get(end).i32(1).sub().get(stride).mul();
      offset();
      f.add().get(hi).ltS().brIf(1);
      f.get(end).i32(1).sub().set(end).br(0);
    }),
  );
}

/** The exported loop nest; tile functions sit at indices 1.. (see tileIndex). */
function kernelFn(tileIndex: (nci: number, nv: number) => number, ciTile: number, vTile: number): FnBuilder {
  const f = new FnBuilder('conv_dw', KERNEL_PARAMS.length);
  const p = Object.fromEntries(KERNEL_PARAMS.map((name, i) => [name, i])) as Record<(typeof KERNEL_PARAMS)[number], number>;
  const L = () => f.local(I32);
  const [b, kh, kw, ci0, co0, ohLo, ohHi, owLo, owHi, n, rows, xImg, dyImg, xp0, dp0, nci, nv, acc] = Array.from({ length: 18 }, L);
  const [xStep, dStep, rowStride, xRowStep, dRowStep] = Array.from({ length: 5 }, L);
  // Byte strides: next pixel along a row, next row (oh + 1).
  f.get(p.sw).get(p.Ci).mul().i32(4).mul().set(xStep);
  f.get(p.Co).i32(4).mul().set(dStep);
  f.get(p.Co).i32(4).mul().set(rowStride);
  f.get(p.sh).get(p.W).mul().get(p.Ci).mul().i32(4).mul().set(xRowStep);
  f.get(p.OW).get(p.Co).mul().i32(4).mul().set(dRowStep);
  f.forRange(b, () => f.i32(0), p.B, 1, () => {
    // One image at a time: its x and dy stay cache-resident across the taps and tiles.
    f.get(p.x).get(b).get(p.H).mul().get(p.W).mul().get(p.Ci).mul().i32(4).mul().add().set(xImg);
    f.get(p.dy).get(b).get(p.OH).mul().get(p.OW).mul().get(p.Co).mul().i32(4).mul().add().set(dyImg);
    f.forRange(kh, () => f.i32(0), p.KH, 1, () => {
      validRange(f, ohLo, ohHi, p.OH, p.sh, () => f.get(kh).get(p.pt).sub(), p.H); // rows: 0 <= oh*sh + kh - pt < H
      f.get(ohHi).get(ohLo).sub().tee(rows).i32(0).gtS();
      f.if(() => {
        f.forRange(kw, () => f.i32(0), p.KW, 1, () => {
          validRange(f, owLo, owHi, p.OW, p.sw, () => f.get(kw).get(p.pl).sub(), p.W);
          f.get(owHi).get(owLo).sub().tee(n).i32(0).gtS();
          f.if(() => {
            // xp0 = xImg + ((ohLo*sh + kh - pt) * W + owLo*sw + kw - pl) * Ci * 4; dp0 = dyImg + (ohLo*OW + owLo) * Co * 4
            f.get(xImg).get(ohLo).get(p.sh).mul().get(kh).add().get(p.pt).sub().get(p.W).mul();
            f.get(owLo).get(p.sw).mul().add().get(kw).add().get(p.pl).sub().get(p.Ci).mul().i32(4).mul().add().set(xp0);
            f.get(dyImg).get(ohLo).get(p.OW).mul().get(owLo).add().get(p.Co).mul().i32(4).mul().add().set(dp0);
            f.forRange(ci0, () => f.i32(0), p.Ci, ciTile, () => {
              f.get(p.Ci).get(ci0).sub().set(nci);
              f.forRange(co0, () => f.i32(0), p.Co, 4 * vTile, () => {
                f.get(p.Co).get(co0).sub().i32(2).shrU().set(nv); // remaining f32x4 vectors
                // acc = dw + (((kh*KW + kw)*Ci + ci0)*Co + co0) * 4
                f.get(p.dw).get(kh).get(p.KW).mul().get(kw).add().get(p.Ci).mul().get(ci0).add().get(p.Co).mul().get(co0).add().i32(4).mul().add().set(acc);
                const callTile = (ci: number, v: number) => {
                  f.get(acc).get(xp0).get(ci0).i32(4).mul().add().get(dp0).get(co0).i32(4).mul().add();
                  f.get(n).get(rows).get(xStep).get(dStep).get(rowStride).get(xRowStep).get(dRowStep).call(tileIndex(ci, v));
                };
                // Full tile first; edge tiles by exact min(nci, ciTile), min(nv, vTile).
                f.get(nci).i32(ciTile).geS().get(nv).i32(vTile).geS().and();
                f.if(
                  () => callTile(ciTile, vTile),
                  () => {
                    for (let ci = 1; ci <= ciTile; ci++) {
                      for (let v = 1; v <= vTile; v++) {
                        if (ci === ciTile && v === vTile) continue;
                        f.minConst(nci, ciTile).i32(ci).eq().minConst(nv, vTile).i32(v).eq().and();
                        f.if(() => callTile(ci, v));
                      }
                    }
                  },
                );
              });
            });
          });
        });
      });
    });
  });
  return f;
}

/** Module bytes: export conv_dw, then the tile functions. */
export function buildConvFilterModule(shared: boolean, fma = false, ciTile = CI_TILE, vTile = V_TILE): Uint8Array {
  const tiles: FnBuilder[] = [];
  const index = new Map<string, number>();
  for (let ci = 1; ci <= ciTile; ci++) {
    for (let v = 1; v <= vTile; v++) {
      index.set(`${ci},${v}`, 1 + tiles.length);
      tiles.push(tileFn(ci, v, fma));
    }
  }
  const main = kernelFn((ci, v) => index.get(`${ci},${v}`) as number, ciTile, vTile);
  return assembleModule([main, ...tiles], shared);
}

/** Convolution geometry the SIMD kernels take (from backend_util.computeConv2DInfo): x [B, H, W, Ci] -> y [B, OH, OW, Co]. */
export interface ConvGeometry {
  B: number;
  H: number;
  W: number;
  Ci: number;
  OH: number;
  OW: number;
  Co: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

/**
 * dw [KH, KW, Ci, Co] from x [B, H, W, Ci] and dy [B, OH, OW, Co] on the wasm backend, or null when this kernel
 * does not apply (no SIMD, Co % 4 != 0, not float32).
 */
export function conv2dBackpropFilterSimd(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo | null {
  if (g.Co % 4 !== 0 || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const fma = relaxedSimdSupported();
  const fn = instantiateOnHeap(backend, 'conv_dw', (shared) => buildConvFilterModule(shared, fma));
  if (fn == null) return null;
  const out = backend.makeOutput([g.KH, g.KW, g.Ci, g.Co], 'float32');
  backend.typedArrayFromHeap(out).fill(0); // the kernel accumulates
  const ptr = (t: TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  fn(ptr(x), ptr(dy), ptr(out), g.B, g.H, g.W, g.Ci, g.OH, g.OW, g.Co, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl);
  return out;
}
