import type * as http from "node:http";

export const LIVENESS_PATH: string;
export function isLiveness(method: string | undefined, url: string | undefined): boolean;
export function withLiveness(listener: http.RequestListener): http.RequestListener;
export function answerLivenessOnNextServer(module: typeof http): void;
