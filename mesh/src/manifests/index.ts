/**
 * Manifest loading and analysis shared by the lint CLI, the test suite, the local mesh and the scripts.
 */
export { loadManifestFiles, parseManifestText, listManifestFiles, lineOf } from './load';
export type { LoadResult } from './load';
export { analyzeManifests, refusedOnApply, sortFindings, FINDING_CODES } from './analyze';
export { parseDuration } from '../istio';
export type { FindingCode } from './analyze';
export { mergeObjects, removeObjects, objectKey, objectRef, apiGroup, namespaceOf, DEFAULT_NAMESPACE } from './merge';
export { validateSchema, formatPath } from './schema';
export { analyzeDockerfile, analyzeDockerfiles, findDockerfiles, parseDockerfile } from './dockerfile';
export { analyzeRepository, formatFinding, BASE_PATHS } from './repository';
export type { RepositoryAnalysis } from './repository';
