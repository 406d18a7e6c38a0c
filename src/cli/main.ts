/**
 * The `mcldef` command line: the headless engine for scripting, benchmarks and tests.
 * Errors print one clear line and exit non-zero (2 for usage errors, 1 for everything else).
 */
import { describeBackend } from '../platform/selectBackend';
import { initNodeBackend } from '../platform/node/backend';
import type { BackendName } from '../platform/selectBackend';
import { UsageError } from './args';
import { INTERRUPTED_EXIT } from './interrupt';
import { isAbortError } from '../engine/defense/control';
import { attackHelp, runAttack } from './commands/attack';
import { convertHelp, runConvert } from './commands/convert';
import { detectHelp, runDetect } from './commands/detect';
import { evalHelp, runEval } from './commands/eval';
import { purifyHelp, runPurify } from './commands/purify';

const commands: Record<string, { help: string; run: (argv: string[]) => Promise<void> }> = {
  eval: { help: evalHelp, run: runEval },
  purify: { help: purifyHelp, run: runPurify },
  detect: { help: detectHelp, run: runDetect },
  convert: { help: convertHelp, run: runConvert },
  attack: { help: attackHelp, run: runAttack },
};

const usage = `usage: mcldef <command> [options]     (MCLDEF_BACKEND=wasm|cpu|webgpu forces a backend)

commands:
${Object.values(commands).map((c) => '  ' + c.help.split('\n')[0]).join('\n')}

mcldef <command> --help shows a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`mcldef: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    const report = await initNodeBackend(process.env.MCLDEF_BACKEND as BackendName | undefined);
    if (!process.env.MCLDEF_QUIET) console.error(`backend: ${describeBackend(report)}`);
    await cmd.run(rest);
    return 0;
  } catch (e) {
    if (isAbortError(e)) {
      console.error(`mcldef ${name}: interrupted (Ctrl-C); nothing was written`);
      return INTERRUPTED_EXIT;
    }
    if (e instanceof UsageError) {
      console.error(`mcldef ${name}: ${e.message}\n\n${cmd.help}`);
      return 2;
    }
    console.error(`mcldef ${name}: error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.MCLDEF_DEBUG && e instanceof Error) console.error(e.stack);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
