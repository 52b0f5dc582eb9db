/** Harness of the reliability and security suite (tests live in ../test, the bad-input corpus in ../corpus). */
export * from './load';
export * from './stats';
export * from './report';
export * from './stack';
export * from './sockets';
export * from './raw-http';
export * from './creates';
export * from './cpu-hog';
