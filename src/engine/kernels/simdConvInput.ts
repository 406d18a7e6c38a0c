/**
 * Conv2DBackpropInput as a WebAssembly SIMD kernel emitted at run time (wasmAsm.ts), in place on
 * tfjs-backend-wasm's heap, NHWC, any stride and padding, exactly the useful multiply-adds:
 *
 *   dx[b, oh*sh + kh - pt, ow*sw + kw - pl, :] += w[kh, kw, :, :] . dy[b, oh, ow, :]   (scatter form)
 *
 * Loop nest (outer in wasm):
 *   for b, oh, kh (input row ih in range), kw (valid ow run, as in simdConvFilter.ts):
 *     for ci0 (4*V_TILE channels), ow0 (P_TILE pixels):
 *       acc[p][j] = sum_co splat(dy[b, oh, ow0 + p, co]) * wT[kh, kw, co, ci0 + 4j .. +3]
 *       dx[b, ih, (ow0 + p)*sw + kw - pl, ci0 + 4j ..] += acc[p][j]
 * with wT = w transposed to [KH, KW, Co, Ci] (tiny) so weights load as f32x4 over input channels.
 * Needs Ci % 4 == 0 (WRN's stem, Ci = 3, has no input gradient); other shapes use the XNNPACK formulation.
 *
 * Why: the XNNPACK formulation (conv2dBackpropInput.ts) matches the forward convolution for stride 1 but pays
 * 4 zero pads and an AddN to interleave the phases of a stride-2 layer (~4x the forward time there). This runs
 * at ~0.85x the XNNPACK forward convolution's time on WRN-16-1's layers, stride 1 or 2 (e.g. 11.2 against 13.2
 * ms for [64, 32, 32, 16] 16->16; 5.4 against 24.7 for the 3x3 stride-2 layer's phase-split XNNPACK path).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { type ConvGeometry, validRange } from './simdConvFilter';
import { instantiateOnHeap, relaxedSimdSupported } from './wasmHeap';
import { assembleModule, FnBuilder, I32, V128 } from './wasmAsm';

/** Pixels per register tile. */
const P_TILE = 4;
/** f32x4 vectors of input channels per register tile. */
const V_TILE = 2;

const KERNEL_PARAMS = ['dy', 'wT', 'dx', 'B', 'H', 'W', 'Ci', 'OH', 'OW', 'Co', 'KH', 'KW', 'sh', 'sw', 'pt', 'pl'] as const;

/**
 * tile(dyp, wp, dxp, Co, dyPix, dxPix, wCo): np pixels x nv vectors, reduction over Co (>= 1). (Specializing the
 * byte strides into constant offsets, with or without unrolling the reduction, measured no faster.)
 */
function tileFn(np: number, nv: number, fma: boolean): FnBuilder {
  const f = new FnBuilder(`tile_${np}_${nv}`, 7, false);
  const [dyp, wp, dxp, co, dyPix, dxPix, wCo] = [0, 1, 2, 3, 4, 5, 6];
  const acc = Array.from({ length: np }, () => Array.from({ length: nv }, () => f.local(V128)));
  const wv = Array.from({ length: nv }, () => f.local(V128));
  const s = f.local(V128);
  const px = Array.from({ length: np }, () => f.local(I32)); // dy pixel pointers
  for (let p = 0; p < np; p++) f.get(dyp).get(dyPix).i32(p).mul().add().set(px[p]);
  // acc starts at zero: wasm zero-initializes locals on every call.
  f.loop(() => {
    for (let j = 0; j < nv; j++) f.get(wp).v128Load(16 * j).set(wv[j]);
    for (let p = 0; p < np; p++) {
      f.get(px[p]).v128Load32Splat(0).set(s);
      for (let j = 0; j < nv; j++) {
        if (fma) f.get(s).get(wv[j]).get(acc[p][j]).f32x4RelaxedMadd().set(acc[p][j]);
        else f.get(acc[p][j]).get(s).get(wv[j]).f32x4Mul().f32x4Add().set(acc[p][j]);
      }
      f.get(px[p]).i32(4).add().set(px[p]);
    }
    f.get(wp).get(wCo).add().set(wp);
    f.get(co).i32(1).sub().tee(co).brIf(0);
  });
  for (let p = 0; p < np; p++) {
    for (let j = 0; j < nv; j++) {
      // dx[p] += acc[p][j]
      f.get(dxp).get(dxPix).i32(p).mul().add();
      f.get(dxp).get(dxPix).i32(p).mul().add().v128Load(16 * j).get(acc[p][j]).f32x4Add();
      f.v128Store(16 * j);
    }
  }
  return f;
}

function kernelFn(tileIndex: (np: number, nv: number) => number, pTile: number, vTile: number): FnBuilder {
  const f = new FnBuilder('conv_dx', KERNEL_PARAMS.length);
  const p = Object.fromEntries(KERNEL_PARAMS.map((name, i) => [name, i])) as Record<(typeof KERNEL_PARAMS)[number], number>;
  const L = () => f.local(I32);
  const [b, oh, kh, kw, ci0, ow0, ih, owLo, owHi, dyRow, dxRow, nv, nvAll, npAll] = Array.from({ length: 14 }, L);
  const [dyPix, dxPix, wCo] = Array.from({ length: 3 }, L);
  f.get(p.Co).i32(4).mul().set(dyPix);
  f.get(p.sw).get(p.Ci).mul().i32(4).mul().set(dxPix);
  f.get(p.Ci).i32(4).mul().set(wCo);
  f.get(p.Ci).i32(2).shrU().set(nvAll); // f32x4 vectors per pixel
  f.forRange(b, () => f.i32(0), p.B, 1, () => {
    f.forRange(oh, () => f.i32(0), p.OH, 1, () => {
      f.get(p.dy).get(b).get(p.OH).mul().get(oh).add().get(p.OW).mul().get(p.Co).mul().i32(4).mul().add().set(dyRow);
      f.forRange(kh, () => f.i32(0), p.KH, 1, () => {
        f.get(oh).get(p.sh).mul().get(kh).add().get(p.pt).sub().tee(ih).i32(0).geS();
        f.get(ih).get(p.H).ltS().and();
        f.if(() => {
          f.get(p.dx).get(b).get(p.H).mul().get(ih).add().get(p.W).mul().get(p.Ci).mul().i32(4).mul().add().set(dxRow);
          f.forRange(kw, () => f.i32(0), p.KW, 1, () => {
            validRange(f, owLo, owHi, p.OW, p.sw, () => f.get(kw).get(p.pl).sub(), p.W);
            f.get(owHi).get(owLo).sub().i32(0).gtS();
            f.if(() => {
              f.forRange(ci0, () => f.i32(0), nvAll, vTile, () => {
                f.get(nvAll).get(ci0).sub().set(nv); // remaining vectors (ci0 counts vectors here)
                f.forRange(ow0, () => f.get(owLo), owHi, pTile, () => {
                  f.get(owHi).get(ow0).sub().set(npAll);
                  // Pointers (computed once per tile call).
                  const call = (pp: number, vv: number) => {
                    f.get(dyRow).get(ow0).get(dyPix).mul().add();
                    f.get(p.wT).get(kh).get(p.KW).mul().get(kw).add().get(p.Co).mul().get(p.Ci).mul().i32(4).mul().add().get(ci0).i32(16).mul().add();
                    // dx[b, ih, ow0*sw + kw - pl, 4*ci0]
                    f.get(dxRow).get(ow0).get(p.sw).mul().get(kw).add().get(p.pl).sub().get(p.Ci).mul().i32(4).mul().add().get(ci0).i32(16).mul().add();
                    f.get(p.Co).get(dyPix).get(dxPix).get(wCo).call(tileIndex(pp, vv));
                  };
                  f.get(npAll).i32(pTile).geS().get(nv).i32(vTile).geS().and();
                  f.if(
                    () => call(pTile, vTile),
                    () => {
                      for (let pp = 1; pp <= pTile; pp++) {
                        for (let vv = 1; vv <= vTile; vv++) {
                          if (pp === pTile && vv === vTile) continue;
                          f.minConst(npAll, pTile).i32(pp).eq().minConst(nv, vTile).i32(vv).eq().and();
                          f.if(() => call(pp, vv));
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
  });
  return f;
}

/**
 * Module bytes: export conv_dx, then the tile functions (pTile x vTile register tiles; 4 x 2 measured best of
 * 3x2, 6x2, 8x1, 4x1, 2x4, 3x3, 4x3, 5x2 and 2x2 on WRN's layers, with 2x4 equal).
 */
export function buildConvInputModule(shared: boolean, fma = false, pTile = P_TILE, vTile = V_TILE): Uint8Array {
  const tiles: FnBuilder[] = [];
  const index = new Map<string, number>();
  for (let pp = 1; pp <= pTile; pp++) {
    for (let vv = 1; vv <= vTile; vv++) {
      index.set(`${pp},${vv}`, 1 + tiles.length);
      tiles.push(tileFn(pp, vv, fma));
    }
  }
  return assembleModule([kernelFn((pp, vv) => index.get(`${pp},${vv}`) as number, pTile, vTile), ...tiles], shared);
}

/**
 * dx [B, H, W, Ci] from dy [B, OH, OW, Co] and wT = filter transposed to [KH, KW, Co, Ci], or null when this
 * kernel does not apply (no SIMD, Ci % 4 != 0, not float32).
 */
export function conv2dBackpropInputSimd(backend: BackendWasm, dy: TensorInfo, wT: TensorInfo, g: ConvGeometry): TensorInfo | null {
  if (g.Ci % 4 !== 0 || dy.dtype !== 'float32' || wT.dtype !== 'float32') return null;
  const fma = relaxedSimdSupported();
  const fn = instantiateOnHeap(backend, 'conv_dx', (shared) => buildConvInputModule(shared, fma));
  if (fn == null) return null;
  const out = backend.makeOutput([g.B, g.H, g.W, g.Ci], 'float32');
  backend.typedArrayFromHeap(out).fill(0); // the kernel accumulates
  const ptr = (t: TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  fn(ptr(dy), ptr(wT), ptr(out), g.B, g.H, g.W, g.Ci, g.OH, g.OW, g.Co, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl);
  return out;
}
