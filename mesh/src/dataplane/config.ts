/** Moved to ../config/ (the route model and its builders); re-exported here until no importer is left. */
export * from '../config';
