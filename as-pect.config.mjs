// as-pect runs the kernel specs twice: with SIMD (as-pect.asconfig.json) and as the MVP build
// (as-pect.mvp.asconfig.json, `npm run test:as`), so both code paths of every kernel are tested.
export default {
  entries: ["test/assembly/**/*.spec.ts"],
  include: ["test/assembly/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
