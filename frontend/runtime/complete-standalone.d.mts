export const OPTIONAL_MANIFESTS: string[];
export function completeStandalone(standaloneDir: string): string[];
