// The frontend, the server extension and the kernel package must carry one version (the sidebar's
// handshake compares them), so the build stops when package.json and the Python package disagree.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const python = readFileSync(new URL("../../src/modeldeck/_version.py", import.meta.url), "utf8");
const found = /__version__\s*=\s*["']([^"']+)["']/.exec(python)?.[1];
if (found !== pkg.version) {
  console.error(
    `labextension/package.json has version ${pkg.version}, src/modeldeck/_version.py has ${found}: make them equal.`,
  );
  process.exit(1);
}
