/**
 * Which lines of the PostgreSQL server's own log reach the mesh's terminal. A start and a fast shutdown (Ctrl-C)
 * log a dozen routine LOG lines and some FATALs that are expected: one per probe that connects while the server
 * starts ("the database system is starting up"), one per session a fast shutdown ends ("terminating connection due
 * to administrator command"), and the logical replication launcher's "exited with exit code 1" (seen with
 * PostgreSQL 15 on every Ctrl-C of npm start). They read as failures, so they stay out; warnings, errors, any other
 * FATAL, a crashed server process, a LOG line saying "could not ..." and every line that is not in PostgreSQL's log
 * format still go through. The workload prints its own "ready" and "stopping" lines, and a failed start still
 * shows the server's whole recent output.
 */
const SERVER_LINE = /^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] ([A-Z]+\d?):\s+(.*)$/;

const EXPECTED_FATAL = [
  /^the database system is starting up$/,
  /^the database system is shutting down$/,
  /^terminating connection due to administrator command$/,
];
// LOG lines that report a problem; "could not bind" also tells the supervisor that the port was taken.
const PROBLEM = /terminated by signal|exited with exit code [1-9]|was terminated by exception|could not /;
const EXPECTED_EXIT = /^background worker "logical replication launcher" \(PID \d+\) exited with exit code 1$/;

/** A filter over the server's lines (stateful: DETAIL/HINT/CONTEXT lines follow the fate of the line they explain). */
export function serverLogFilter(): (line: string) => boolean {
  let previousShown = true;
  return (line) => {
    const match = SERVER_LINE.exec(line);
    if (!match) return true;
    const [, level, message] = match as unknown as [string, string, string];
    let shown: boolean;
    if (level === 'DETAIL' || level === 'HINT' || level === 'CONTEXT' || level === 'STATEMENT') shown = previousShown;
    else if (level === 'FATAL') shown = !EXPECTED_FATAL.some((re) => re.test(message));
    else if (level === 'LOG' || level === 'INFO' || level === 'NOTICE' || level.startsWith('DEBUG'))
      shown = PROBLEM.test(message) && !EXPECTED_EXIT.test(message);
    else shown = true;
    previousShown = shown;
    return shown;
  };
}
