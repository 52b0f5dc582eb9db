/** Where a command writes: the real process streams from the CLI, buffers in tests. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  /** Progress bars only make sense on a terminal. */
  readonly interactive: boolean;
}

export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  interactive: Boolean(process.stderr.isTTY),
};

/** Collects lines, for tests and for callers that want the text. */
export class BufferedOutput implements Output {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly interactive = false;
  out(line: string): void {
    this.stdout.push(...line.split('\n'));
  }
  err(line: string): void {
    this.stderr.push(...line.split('\n'));
  }
}
