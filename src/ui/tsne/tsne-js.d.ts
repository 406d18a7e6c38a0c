/** Types for tsne-js 1.0.3 (the parts this project uses): the reference the engine t-SNE is tested and benchmarked against. */
declare module 'tsne-js' {
  export default class TSNE {
    constructor(config: { dim?: number; perplexity?: number; earlyExaggeration?: number; learningRate?: number; nIter?: number; metric?: string });
    init(opts: { data: number[][]; type: 'dense' | 'sparse' }): void;
    run(): [number, number];
    outputEmbedding: unknown;
    getOutput(): number[][];
    getOutputScaled(): number[][];
    on(event: string, cb: (...args: unknown[]) => void): void;
  }
}
