/**
 * The Node flags every worker starts with: `npm run start:worker`, `npm start`, the compose file and
 * the import benchmark (apps/worker/test/node-flags.test.ts keeps package.json and docker/compose.yaml
 * in step with this list). They keep a 1,000,000-row CSV import under 256 MB of RSS: a young
 * generation of 4 MB semi-spaces (chunks in flight are not copied about in a large one) and an old
 * generation that grows by half rather than up to 4x between full collections; ~500 MB with Node's
 * own sizing, which counts on plentiful memory (docs/benchmarks.md). On the command line, not in
 * NODE_OPTIONS: V8 refuses --heap-growing-percent there.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];
