/**
 * The numpy stand-ins (NUMPY_GLOBALS): numpy 1.24's own pickles of scalars, arrays and dtypes decode to data, and
 * nothing of numpy (or what it could be made to call) runs.
 */
import { describe, expect, it, vi } from 'vitest';
import { PickleRefusedError, unpickle, type AllowList } from '../../../src/engine/io/pickle';
import { NUMPY_GLOBALS, NumpyArray, NumpyDtype, NumpyScalar } from '../../../src/engine/io/pickleNumpy';

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const load = (b: Uint8Array, allowed: AllowList = {}): unknown => unpickle(b, { allowed }).value;

// numpy 1.24's pickles of NUMPY_VALUE (CPython 3.11; protocol 2 writes bytes through _codecs.encode, 4 as BINBYTES):
// {'f8': np.float64(93.5), 'f4': np.float32(1.5), 'i8': np.int64(-7), 'big': np.int64(2**60), 'i4': np.int32(123),
//  'b1': np.bool_(True), 'u1': np.uint8(200), 'str': np.str_('ab'), 'c16': np.complex128(1+2j), 'dt': np.dtype('f4'),
//  'be': np.array([1.0, -2.5], dtype='>f8'), 'fortran': np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
//  'empty': np.zeros(0), 'zero_d': np.array(4.25), 'obj': np.array([1, 'a'], dtype=object),
//  'rec': np.zeros(2, dtype=[('a', '<f4'), ('b', 'i2')])}
const NUMPY: Record<number, string> = {
  2: [
    '80027d710028580200000066387101636e756d70792e636f72652e6d756c746961727261790a7363616c61720a7102636e756d70790a64747970650a71035802000000663871048988877105527106284b0358010000003c71074e4e4e4affffffff4aff',
    'ffffff4b0074710862635f636f646563730a656e636f64650a710958080000000000000000605740710a58060000006c6174696e31710b86710c52710d86710e52710f580200000066347110680268035802000000663471118988877112527113284b03',
    '68074e4e4e4affffffff4affffffff4b0074711462680958050000000000c3803f7115680b86711652711786711852711958020000006938711a6802680358020000006938711b898887711c52711d284b0368074e4e4e4affffffff4affffffff4b0074',
    '711e6268095810000000c3b9c3bfc3bfc3bfc3bfc3bfc3bfc3bf711f680b867120527121867122527123580300000062696771246802681d6809580800000000000000000000107125680b86712652712786712852712958020000006934712a68026803',
    '58020000006934712b898887712c52712d284b0368074e4e4e4affffffff4affffffff4b0074712e62680958040000007b000000712f680b867130527131867132527133580200000062317134680268035802000000623171358988877136527137284b',
    '0358010000007c71384e4e4e4affffffff4affffffff4b00747139626809580100000001713a680b86713b52713c86713d52713e58020000007531713f680268035802000000753171408988877141527142284b0368384e4e4e4affffffff4affffffff',
    '4b007471436268095802000000c3887144680b867145527146867147527148580300000073747271496802680358020000005532714a898887714b52714c284b0368074e4e4e4b084b044b0874714d62680958080000006100000062000000714e680b86',
    '714f5271508671515271525803000000633136715368026803580300000063313671548988877155527156284b0368074e4e4e4affffffff4affffffff4b007471576268095811000000000000000000c3b03f00000000000000407158680b8671595271',
    '5a86715b52715c58020000006474715d681358020000006265715e636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a715f636e756d70790a6e6461727261790a71604b0085716168095801000000627162680b86',
    '7163527164877165527166284b014b028571676803580200000066387168898887716952716a284b0358010000003e716b4e4e4e4affffffff4affffffff4b0074716c6289680958120000003fc3b0000000000000c38004000000000000716d680b8671',
    '6e52716f747170625807000000666f727472616e7171685f68604b008571726864877173527174284b014b024b03867175682d88680958180000000000000003000000010000000400000002000000050000007176680b86717752717874717962580500',
    '0000656d707479717a685f68604b0085717b686487717c52717d284b014b0085717e680689635f5f6275696c74696e5f5f0a62797465730a717f295271807471816258060000007a65726f5f647182685f68604b008571836864877184527185284b0129',
    '6806896809580800000000000000000011407186680b8671875271887471896258030000006f626a718a685f68604b0085718b686487718c52718d284b014b0285718e680358020000004f38718f8988877190527191284b0368384e4e4e4affffffff4a',
    'ffffffff4b3f74719262895d7193284b015801000000617194657471956258030000007265637196685f68604b008571976864877198527199284b014b0285719a680358020000005636719b898887719c52719d284b0368384e6894580100000062719e',
    '86719f7d71a028689468134b008671a1689e68035802000000693271a289888771a35271a4284b0368074e4e4e4affffffff4affffffff4b007471a5624b048671a6754b064b014b107471a762896809580c00000000000000000000000000000071a868',
    '0b8671a95271aa7471ab62752e',
  ].join(''),
  4: [
    '800495f8030000000000007d94288c026638948c156e756d70792e636f72652e6d756c74696172726179948c067363616c61729493948c056e756d7079948c0564747970659493948c02663894898887945294284b038c013c944e4e4e4affffffff4aff',
    'ffffff4b007494624308000000000060574094869452948c02663494680468078c02663494898887945294284b03680b4e4e4e4affffffff4affffffff4b0074946243040000c03f94869452948c02693894680468078c02693894898887945294284b03',
    '680b4e4e4e4affffffff4affffffff4b007494624308f9ffffffffffffff94869452948c03626967946804681b4308000000000000001094869452948c02693494680468078c02693494898887945294284b03680b4e4e4e4affffffff4affffffff4b00',
    '74946243047b00000094869452948c02623194680468078c02623194898887945294284b038c017c944e4e4e4affffffff4affffffff4b0074946243010194869452948c02753194680468078c02753194898887945294284b0368304e4e4e4affffffff',
    '4affffffff4b007494624301c894869452948c0373747294680468078c02553294898887945294284b03680b4e4e4e4b084b044b087494624308610000006200000094869452948c0363313694680468078c0363313694898887945294284b03680b4e4e',
    '4e4affffffff4affffffff4b007494624310000000000000f03f000000000000004094869452948c0264749468138c0262659468028c0c5f7265636f6e73747275637494939468058c076e6461727261799493944b0085944301629487945294284b014b',
    '02859468078c02663894898887945294284b038c013e944e4e4e4affffffff4affffffff4b007494628943103ff0000000000000c004000000000000947494628c07666f727472616e94685068524b008594685487945294284b014b024b038694682788',
    '4318000000000300000001000000040000000200000005000000947494628c05656d70747994685068524b008594685487945294284b014b008594680a894300947494628c067a65726f5f6494685068524b008594685487945294284b0129680a894308',
    '0000000000001140947494628c036f626a94685068524b008594685487945294284b014b02859468078c024f3894898887945294284b0368304e4e4e4affffffff4affffffff4b3f749462895d94284b018c016194657494628c0372656394685068524b',
    '008594685487945294284b014b02859468078c02563694898887945294284b0368304e687d8c01629486947d9428687d68134b008694688768078c02693294898887945294284b03680b4e4e4e4affffffff4affffffff4b007494624b048694754b064b',
    '014b1074946289430c00000000000000000000000094749462752e',
  ].join(''),
};

describe('unpickle: numpy values through NUMPY_GLOBALS (data only)', () => {
  const numpyLoad = (b: Uint8Array) => load(b, NUMPY_GLOBALS) as Map<string, unknown>;
  const arr = (v: unknown): NumpyArray => {
    expect(v).toBeInstanceOf(NumpyArray);
    return v as NumpyArray;
  };

  it.each([2, 4])('decodes scalars, arrays and dtypes (protocol %i)', (p) => {
    const v = numpyLoad(hex(NUMPY[p]));
    // scalars of the decoded kinds come back as plain JS values
    expect(v.get('f8')).toBe(93.5);
    expect(v.get('f4')).toBe(1.5);
    expect(v.get('i8')).toBe(-7);
    expect(v.get('big')).toBe(2n ** 60n);
    expect(v.get('i4')).toBe(123);
    expect(v.get('b1')).toBe(true);
    expect(v.get('u1')).toBe(200);
    // other kinds become placeholders describing themselves
    for (const [key, name] of [['str', '<U2'], ['c16', '<c16']]) {
      const sc = v.get(key) as NumpyScalar;
      expect(sc, key).toBeInstanceOf(NumpyScalar);
      expect(sc.dtype.name, key).toBe(name);
    }
    expect((v.get('str') as NumpyScalar).data).toEqual(Uint8Array.of(0x61, 0, 0, 0, 0x62, 0, 0, 0));
    const dt = v.get('dt') as NumpyDtype;
    expect(dt).toBeInstanceOf(NumpyDtype);
    expect([dt.name, dt.byteorder, dt.structured]).toEqual(['float32', '<', false]);
    // arrays: shape, dtype, values in row-major order
    const be = arr(v.get('be'));
    expect([be.shape, be.dtype?.name, be.dtype?.byteorder, be.values]).toEqual([[2], 'float64', '>', [1, -2.5]]);
    const f = arr(v.get('fortran'));
    expect([f.shape, f.dtype?.name, f.fortran, f.values]).toEqual([[2, 3], 'int32', true, [0, 1, 2, 3, 4, 5]]);
    const empty = arr(v.get('empty'));
    expect([empty.shape, empty.values, empty.data]).toEqual([[0], [], new Uint8Array(0)]);
    const z = arr(v.get('zero_d'));
    expect([z.shape, z.size, z.values]).toEqual([[], 1, [4.25]]);
    expect(arr(v.get('obj')).values).toEqual([1, 'a']);
    const rec = arr(v.get('rec'));
    expect([rec.shape, rec.dtype?.structured, rec.dtype?.name, rec.values, rec.data?.length]).toEqual([[2], true, '|V6', undefined, 12]);
  });

  it('accepts numpy 2.x spellings (numpy._core.multiarray)', () => {
    const v1 = ascii(String.fromCharCode(...hex(NUMPY[2])).replaceAll('numpy.core.multiarray', 'numpy._core.multiarray'));
    expect(String.fromCharCode(...v1)).toContain('numpy._core.multiarray\nscalar');
    const v = numpyLoad(v1);
    expect(v.get('f8')).toBe(93.5);
    expect(arr(v.get('be')).values).toEqual([1, -2.5]);
  });

  it('without NUMPY_GLOBALS, numpy is refused like any other global', () => {
    expect(() => load(hex(NUMPY[2]))).toThrow(/"numpy\.core\.multiarray\.scalar"/);
  });

  it('refuses os.system smuggled in as a numpy scalar\'s bytes: numpy.dtype ran (data only), scalar never did', () => {
    const scalar = vi.fn(() => 0);
    const dtype = vi.fn(NUMPY_GLOBALS['numpy.dtype'].call!);
    const allowed: AllowList = { ...NUMPY_GLOBALS, 'numpy.core.multiarray.scalar': { call: scalar }, 'numpy.dtype': { call: dtype } };
    // scalar(dtype('f8'), os.system('touch x')), protocol 0
    const evil = ascii("cnumpy.core.multiarray\nscalar\n(cnumpy\ndtype\n(S'f8'\nI00\nI01\ntR(I3\nS'<'\nNNNI-1\nI-1\nI0\ntbcos\nsystem\n(S'touch x'\ntRtR.");
    expect(() => load(evil, allowed)).toThrow(PickleRefusedError);
    expect(() => load(evil, allowed)).toThrow(/"os\.system"/);
    expect(dtype).toHaveBeenCalledWith(['f8', false, true]);
    expect(scalar).not.toHaveBeenCalled();
    // the same with builtins.eval as the bytes, and as the dtype
    expect(() => load(ascii("cnumpy.core.multiarray\nscalar\n(cbuiltins\neval\n(S'1'\ntRS'x'\ntR."), NUMPY_GLOBALS)).toThrow(/"builtins\.eval"/);
  });

  it('stand-ins accept only the shapes pickle writes', () => {
    const enc = (args: string) => ascii(`c_codecs\nencode\n(${args}tR.`);
    expect(load(enc("V\u00ff\nS'latin1'\n"), NUMPY_GLOBALS)).toEqual(Uint8Array.of(255));
    expect(() => load(enc("S'x'\nS'rot13'\n"), NUMPY_GLOBALS)).toThrow(/only allowed as encode\(str, 'latin1'\)/);
    expect(() => load(enc("V\\u0100\nS'latin1'\n"), NUMPY_GLOBALS)).toThrow(/U\+0100/);
    expect(load(ascii('c__builtin__\nbytes\n)R.'), NUMPY_GLOBALS)).toEqual(new Uint8Array(0));
    expect(() => load(ascii('cbuiltins\nbytes\n(I1000000000\ntR.'), NUMPY_GLOBALS)).toThrow(/only allowed without arguments/);
    expect(() => load(ascii("cnumpy\ndtype\n(S'f8; rm -rf'\ntR."), NUMPY_GLOBALS)).toThrow(/not a numpy type string/);
    expect(() => load(ascii('cnumpy.core.multiarray\nscalar\n(I1\nI2\ntR.'), NUMPY_GLOBALS)).toThrow(/numpy scalar of a number, not a numpy\.dtype/);
    expect(() => load(ascii("cnumpy.core.multiarray\n_reconstruct\n(cnumpy\ndtype\n(I0\ntS'b'\ntR."), NUMPY_GLOBALS)).toThrow(/_reconstruct of a global numpy\.dtype, not numpy\.ndarray/);
    expect(() => load(ascii('cnumpy\nndarray\n)R.'), NUMPY_GLOBALS)).toThrow(/may only be referenced/);
    // an array whose data does not match its shape
    const bad = ascii("cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntS'b'\ntR(I1\n(I3\ntcnumpy\ndtype\n(S'f8'\nI00\nI01\ntRI00\nS'12345678'\ntb.");
    expect(() => load(bad, NUMPY_GLOBALS)).toThrow('pickle: numpy float64 array of shape [3] has 8 bytes of data, not 24');
  });
});

