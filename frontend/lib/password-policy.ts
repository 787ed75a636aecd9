// The rules for a new password: better-auth enforces them (lib/auth.ts), the sign-up form shows
// them. The upper bound keeps one sign-up from making the server hash megabytes.
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 128;
