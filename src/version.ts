// Kept in step with package.json by scripts/build.mjs.
export const VERSION = "0.1.0";
