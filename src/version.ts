/** Package version, reported in manifests and `--version`. Keep in step with package.json. */
export const VERSION = '0.1.0';
