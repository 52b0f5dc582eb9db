/**
 * Watches manifest folders and reports changed manifest files (relative to the repo root), debounced so one
 * editor save (often several events: truncate, write, rename) is one change.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ManifestWatcherOptions {
  root: string;
  onChange: (file: string) => void;
  debounceMs?: number;
  onError?: (error: Error) => void;
}

export class ManifestWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: ManifestWatcherOptions) {}

  /** Watches `dir` recursively unless a folder above it is watched already. */
  watch(dir: string): void {
    const absolute = path.resolve(this.options.root, dir);
    for (const watched of this.watchers.keys()) {
      if (absolute === watched || absolute.startsWith(watched + path.sep)) return;
    }
    if (!fs.existsSync(absolute) || !fs.statSync(absolute).isDirectory()) return;
    const watcher = fs.watch(absolute, { recursive: true }, (_event, filename) => {
      if (!filename) return;
      const file = path.relative(this.options.root, path.join(absolute, filename.toString()));
      if (!/\.ya?ml$/.test(file) || /(^|[/\\])kustomization\.ya?ml$/.test(file)) return;
      clearTimeout(this.timers.get(file));
      this.timers.set(
        file,
        setTimeout(() => {
          this.timers.delete(file);
          this.options.onChange(file);
        }, this.options.debounceMs ?? 100),
      );
    });
    watcher.on('error', (error) => this.options.onError?.(error));
    this.watchers.set(absolute, watcher);
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.watchers.clear();
    this.timers.clear();
  }
}
