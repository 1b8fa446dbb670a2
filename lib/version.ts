import pkg from "../package.json" with { type: "json" };

/** `service-ambitions <version>`, the line `--version` prints (the Python tool prints the same form). */
export const versionLine = () => `service-ambitions ${pkg.version}`;
