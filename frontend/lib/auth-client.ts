"use client";

import { createAuthClient } from "better-auth/react";

// Same-origin: no base URL is baked into the bundle, so one build serves every environment.
export const authClient = createAuthClient();
