// Preloaded into a CLI run (`bun --preload`): on exit, prints every module the run loaded.
process.on("exit", () => {
  process.stderr.write(`\nLOADED ${JSON.stringify(Object.keys(require.cache))}\n`);
});
